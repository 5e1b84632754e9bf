"""Which Tote subscriptions to start, and the GraphQL document of each.

One operation per catalog entry (Tote allows one root field per subscription operation).  The
set is configurable without a code change: ``CONNECTOR_SUBSCRIPTIONS`` names root fields to
start (default: every catalog entry), and ``CONNECTOR_SELECTIONS_FILE`` is a JSON object
``{field: selection}`` that replaces a guessed selection when Tote's real schema differs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from contract import catalog

__all__ = ["Subscription", "SubscriptionConfigError", "load_selections", "plan_subscriptions"]


class SubscriptionConfigError(ValueError):
    """The configured subscriptions or selections cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One operation to start: the root ``field`` and its full GraphQL ``document``."""

    field: str
    document: str


def load_selections(path: str) -> dict[str, str]:
    """Read a ``{field: selection}`` JSON file; ``{}`` when ``path`` is empty."""
    if not path:
        return {}
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SubscriptionConfigError(f"cannot read selections file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SubscriptionConfigError(f"selections file {path} is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise SubscriptionConfigError(
            f"selections file {path} must be a JSON object of field -> selection strings"
        )
    return raw


def plan_subscriptions(
    fields: Sequence[str] = (), selections: Mapping[str, str] | None = None
) -> list[Subscription]:
    """The subscriptions to start, in catalog order; unknown names are a configuration error."""
    selections = dict(selections or {})
    wanted = list(fields) or [m.field for m in catalog.CATALOG]
    unknown = [f for f in [*wanted, *selections] if catalog.by_field(f) is None]
    if unknown:
        known = ", ".join(m.field for m in catalog.CATALOG)
        raise SubscriptionConfigError(
            f"unknown subscription field(s) {', '.join(sorted(set(unknown)))}; known: {known}"
        )
    plan = []
    for mt in catalog.CATALOG:
        if mt.field in wanted:
            selection = selections.get(mt.field)
            if selection is not None and not selection.strip().startswith("{"):
                raise SubscriptionConfigError(
                    f"selection for {mt.field} must start with '{{', got {selection!r}"
                )
            plan.append(Subscription(mt.field, catalog.subscription_document(mt, selection)))
    return plan
