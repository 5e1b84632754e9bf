"""Which events a client asked for: ``types``, ``product_id``, ``event_id``, ``venue``, ``bet_type``.

Each parameter takes a comma-separated list and may repeat.  An event passes when its stream is
one of ``types`` (all streams when absent) **and**, for every other filter given, the event
carries that key with one of the listed values: asking for ``product_id=X`` means "only events
about product X", so race-level streams (no product id) are not sent.

``event_id`` selects a race: its status and result, its runners, and every pool on it (a pool
knows its race, or races for multi-leg pools, from the reference data).  ``venue`` and
``bet_type`` come from the reference data too, so a pool whose reference has not arrived yet
does not match them.  Product ids compare lower-cased (the pipeline lower-cases UUIDs), venues
case-insensitively, bet types upper-cased; race ids are readable slugs and compare as sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contract import catalog
from webapp.events import REFERENCE_STREAM, Event

__all__ = ["FILTER_PARAMS", "STREAMS", "EventFilter", "FilterError"]

STREAMS: tuple[str, ...] = (*(t.stream for t in catalog.TOPICS), REFERENCE_STREAM)
_MAX_VALUES = 200

FILTER_PARAMS: tuple[str, ...] = ("types", "product_id", "event_id", "venue", "bet_type")
"""The query parameters ``/events`` and ``/state`` filter by (each may repeat or hold a list)."""


class FilterError(ValueError):
    """A filter parameter is invalid (answered with HTTP 400 and this message)."""


def _values(raw: Iterable[str], name: str) -> frozenset[str] | None:
    values = [v.strip() for item in raw for v in item.split(",") if v.strip()]
    if not values:
        return None
    if len(values) > _MAX_VALUES:
        raise FilterError(f"too many values for {name!r} (at most {_MAX_VALUES})")
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A client's selection; ``None`` means "no restriction" for that dimension."""

    streams: frozenset[str] | None = None
    product_ids: frozenset[str] | None = None
    event_ids: frozenset[str] | None = None
    venues: frozenset[str] | None = None
    bet_types: frozenset[str] | None = None

    @classmethod
    def from_query(cls, args: Mapping[str, Iterable[str]]) -> EventFilter:
        """Build from query parameters given as ``{name: [values...]}``."""
        streams = _values(args.get("types", ()), "types")
        if streams is not None:
            unknown = sorted(streams - set(STREAMS))
            if unknown:
                raise FilterError(
                    f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(STREAMS)}"
                )
        products = _values(args.get("product_id", ()), "product_id")
        venues = _values(args.get("venue", ()), "venue")
        bet_types = _values(args.get("bet_type", ()), "bet_type")
        return cls(
            streams=streams,
            product_ids=frozenset(p.lower() for p in products) if products else None,
            event_ids=_values(args.get("event_id", ()), "event_id"),
            venues=frozenset(v.casefold() for v in venues) if venues else None,
            bet_types=frozenset(b.upper() for b in bet_types) if bet_types else None,
        )

    @property
    def is_everything(self) -> bool:
        return (
            self.streams is None
            and self.product_ids is None
            and self.event_ids is None
            and self.venues is None
            and self.bet_types is None
        )

    def matches(self, event: Event) -> bool:
        if self.streams is not None and event.stream not in self.streams:
            return False
        if self.product_ids is not None and event.keys.get("product_id") not in self.product_ids:
            return False
        if self.event_ids is not None and self.event_ids.isdisjoint(event.event_ids):
            return False
        if (
            self.venues is not None
            and (event.keys.get("venue") or "").casefold() not in self.venues
        ):
            return False
        return (
            self.bet_types is None or (event.keys.get("bet_type") or "").upper() in self.bet_types
        )
