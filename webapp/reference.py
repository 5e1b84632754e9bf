"""The reference registry: names of races, pools, selections and runners, from ``tote-reference``.

The pipeline publishes each reference entity it learns from Tote's query API as
``{"kind", "id", "as_of", "values"}``; the registry keeps the newest version of each (by
``as_of``: an older message never replaces a newer one) and answers the questions the web app
asks of it: which race is this pool on (so ``?event_id=`` finds pools), what is its venue and bet
type (``?venue=``, ``?bet_type=``), and what should a person read ("Newcastle 14:30 · WIN",
runner names).  Plain data, no I/O; the bus calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from contract import catalog, ingress

__all__ = ["KINDS", "Entity", "ReferenceRegistry", "local_start", "race_label"]

KINDS: tuple[str, ...] = catalog.REFERENCE_KINDS
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class Entity:
    kind: str
    id: str
    as_of_ms: int
    values: Mapping[str, Any]


def normalise_id(kind: str, entity_id: str) -> str:
    """Products, legs and selections are UUIDs (compared lower-cased); races, runners slugs."""
    entity_id = entity_id.strip()
    return entity_id.lower() if kind in ("product", "selection", "leg") else entity_id


def local_start(scheduled_start: object) -> str | None:
    """``"14:30"``: a UTC RFC 3339 start time as the Europe/London clock shows it."""
    if not isinstance(scheduled_start, str):
        return None
    return _local_start(scheduled_start)


@lru_cache(maxsize=4096)
def _local_start(scheduled_start: str) -> str | None:
    try:
        when: datetime = ingress.parse_timestamp(scheduled_start)
    except ValueError:
        return None
    return when.astimezone(LONDON).strftime("%H:%M")


def race_label(venue: object, scheduled_start: object, bet_type: object = None) -> str | None:
    """``"Newcastle 14:30 · WIN"`` (parts that are unknown are left out; ``None`` if all are)."""
    parts = [
        p for p in (venue if isinstance(venue, str) else None, local_start(scheduled_start)) if p
    ]
    text = " ".join(parts)
    if isinstance(bet_type, str) and bet_type:
        text = f"{text} · {bet_type}" if text else bet_type
    return text or None


class ReferenceRegistry:
    """The newest version of every reference entity, with the joins the web app needs."""

    def __init__(self) -> None:
        self._entities: dict[tuple[str, str], Entity] = {}

    def __len__(self) -> int:
        return len(self._entities)

    def apply(self, kind: str, entity_id: str, as_of_ms: int, values: Mapping[str, Any]) -> bool:
        """Keep this version unless a newer one is known; ``True`` when it was kept."""
        key = (kind, normalise_id(kind, entity_id))
        current = self._entities.get(key)
        if current is not None and current.as_of_ms > as_of_ms:
            return False
        self._entities[key] = Entity(kind, key[1], as_of_ms, dict(values))
        return True

    def get(self, kind: str, entity_id: str | None) -> Entity | None:
        if not entity_id:
            return None
        return self._entities.get((kind, normalise_id(kind, entity_id)))

    def entities(self, kind: str | None = None) -> list[Entity]:
        return [e for e in self._entities.values() if kind is None or e.kind == kind]

    def context(  # noqa: C901 - one join per key kind: product, race, selection, runner
        self, keys: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """Names and joins for a message about ``keys`` (product, race, selection, runner).

        A pool's race comes from its product's reference (``event_id``; ``event_ids`` for
        multi-leg pools), so a client filtering on a race also gets that race's pools.
        """
        out: dict[str, Any] = {}
        product = self.get("product", keys.get("product_id"))
        event_id = keys.get("event_id")
        if product is not None:
            values = product.values
            for name in ("bet_type", "currency"):
                if values.get(name):
                    out[name] = values[name]
            if values.get("name"):
                out["product_name"] = values["name"]
            ids = [e for e in values.get("event_ids") or () if isinstance(e, str)]
            # The pipeline's product values list every leg's race (event_ids, in leg order).
            event_id = event_id or values.get("event_id") or (ids[0] if ids else None)
            if ids:
                out["event_ids"] = ids
        event = self.get("event", event_id)
        if event_id:
            out["event_id"] = event_id
        if event is not None:
            values = event.values
            for name in ("venue", "country", "scheduled_start"):
                if values.get(name):
                    out[name] = values[name]
            if values.get("name"):
                out["event_name"] = values["name"]
        selection = self.get("selection", keys.get("selection_id"))
        if selection is not None and selection.values.get("name"):
            out["selection_name"] = selection.values["name"]
        competitor = self.get("competitor", keys.get("competitor_id"))
        if competitor is not None and competitor.values.get("name"):
            out["competitor_name"] = competitor.values["name"]
        if event is not None or product is not None:
            label = race_label(
                out.get("venue"),
                out.get("scheduled_start"),
                out.get("bet_type") if product is not None else None,
            )
            if label:
                out["label"] = label
        return out or None
