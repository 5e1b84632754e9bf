"""Does the system's latest view of every entity equal the simulator's truth?

The simulator's ``GET /state`` gives, per catalog message type and entity key, the current state
of every entity (from every message generated, heard or not).  The system's view is the latest
typed row per entity (BigQuery) or the latest typed message per entity (a topic, the SSE
stream), latest by ``as_of`` (a frame's ``received_at``, a query page's request start) then
``received_at``.  Both are projected onto the same comparable values here.

An entity the system has never heard of counts as missing only when the simulator's state for it
is not the pre-race default (a product nobody opened, a runner nobody confirmed): whether a sweep
turns a default into a typed row is the pipeline's choice, but whatever it does show must be true.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from contract import catalog

__all__ = [
    "DEFAULTS",
    "STATE_TYPES",
    "differences",
    "expected_state",
    "latest_from_bigquery",
    "latest_from_messages",
    "project",
]

STATE_TYPES = (
    "ProductStatusChanged",
    "PoolTotalChanged",
    "SelectionStatusChanged",
    "PoolDividendChanged",
    "EventStatusChanged",
    "CompetitorStatusChanged",
    "EventResultChanged",
)
"""The message types that carry an entity's state (bets are not swept)."""

DEFAULTS: dict[str, dict[str, Any]] = {
    "ProductStatusChanged": {"status": "UNKNOWN"},
    "PoolTotalChanged": {"gross": Decimal(0), "net": Decimal(0)},
    "SelectionStatusChanged": {"status": "AVAILABLE"},
    "EventStatusChanged": {"status": "SCHEDULED"},
    "CompetitorStatusChanged": {"status": "PROVISIONAL"},
}
"""What ``simulator.state`` reports before the stream says anything about an entity."""

State = dict[str, dict[str, dict[str, Any]]]


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _upper(value: Any) -> str | None:
    return None if value is None else str(value).strip().upper()


def _first_amount(money: Any) -> Decimal | None:
    if isinstance(money, list):
        money = money[0] if money else None
    if isinstance(money, Mapping):
        return _dec(money.get("amount"))
    return None


def project(message_type: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A typed row's / message's values → the comparable state of its entity."""
    if message_type == "PoolTotalChanged":
        return {
            "gross": _first_amount(values.get("gross_amounts")),
            "net": _first_amount(values.get("net_amounts")),
        }
    if message_type == "PoolDividendChanged":
        return {
            "dividends": sorted(
                (
                    d.get("name"),
                    _upper(d.get("type")),
                    _upper(d.get("status")),
                    _dec(d.get("amount")),
                    tuple(sorted(str(s).lower() for s in d.get("selection_ids") or ())),
                )
                for d in values.get("dividends") or ()
            )
        }
    if message_type == "EventResultChanged":
        return {
            "result_status": _upper(values.get("result_status")),
            "competitor_results": sorted(
                (r.get("competitor_id"), r.get("finishing_position") or "", _upper(r.get("status")))
                for r in values.get("competitor_results") or ()
            ),
        }
    return {"status": _upper(values.get("status"))}


def key_of(message_type: str, values: Mapping[str, Any]) -> str:
    spec = catalog.by_name(message_type)
    assert spec is not None
    return "|".join(str(values.get(c) or "") for c in spec.key_columns)


def expected_state(snapshot: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> State:
    """The simulator's ``GET /state`` in the same terms as :func:`project`."""
    out: State = {t: {} for t in STATE_TYPES}
    for message_type in STATE_TYPES:
        for key, state in snapshot.get(message_type, {}).items():
            value: dict[str, Any]
            if message_type == "PoolTotalChanged":
                value = {"gross": _dec(state["gross"]), "net": _dec(state["net"])}
            elif message_type in ("PoolDividendChanged", "EventResultChanged"):
                value = project(message_type, state)
            else:
                value = {"status": _upper(state["status"])}
            out[message_type][key] = value
    return out


def _order(as_of: Any, received_at: Any) -> tuple[str, str]:
    def text(v: Any) -> str:
        return v.isoformat() if isinstance(v, datetime) else str(v or "")

    # Timestamps from BigQuery are datetimes, from messages RFC 3339 strings; both sort as text
    # once normalised to ISO form with a fixed 'Z' / '+00:00' suffix.
    return text(as_of or received_at).replace("Z", "+00:00"), text(received_at).replace(
        "Z", "+00:00"
    )


def latest_from_messages(messages: Iterable[Mapping[str, Any]]) -> State:
    """Latest state per entity from typed messages (``{"message_type", "as_of", "received_at",
    "data": {...}}`` as the pipeline publishes them and the web app streams them)."""
    best: dict[tuple[str, str], tuple[tuple[str, str], dict[str, Any]]] = {}
    for message in messages:
        message_type = message.get("message_type")
        if message_type not in STATE_TYPES:
            continue
        values = message.get("data") or {}
        key = (message_type, key_of(message_type, values))
        order = _order(message.get("as_of"), message.get("received_at"))
        if key not in best or order >= best[key][0]:
            best[key] = (order, project(message_type, values))
    out: State = {t: {} for t in STATE_TYPES}
    for (message_type, entity), (_, value) in best.items():
        out[message_type][entity] = value
    return out


def latest_from_bigquery(client: Any, project_id: str, dataset: str) -> State:
    """Latest state per entity from the typed tables (probe frames excluded)."""
    messages = []
    for message_type in STATE_TYPES:
        spec = catalog.by_name(message_type)
        assert spec is not None and spec.table
        sql = (
            f"SELECT * FROM `{project_id}.{dataset}.{spec.table}` "
            "WHERE connection_id IS NULL OR connection_id != 'probe'"
        )
        for row in client.query(sql).result():
            values = dict(row.items())
            messages.append(
                {
                    "message_type": message_type,
                    "as_of": values.get("as_of"),
                    "received_at": values.get("received_at"),
                    "data": values,
                }
            )
    return latest_from_messages(messages)


def differences(expected: State, observed: State, limit: int = 30) -> list[str]:
    """What the system shows wrongly or is missing (non-default states only), at most ``limit``."""
    problems: list[str] = []
    for message_type in STATE_TYPES:
        seen = observed.get(message_type, {})
        default = DEFAULTS.get(message_type)
        for key, truth in expected.get(message_type, {}).items():
            if key in seen:
                if seen[key] != truth:
                    problems.append(
                        f"{message_type} {key}: system {seen[key]} != simulator {truth}"
                    )
            elif truth != default:
                problems.append(f"{message_type} {key}: missing (simulator {truth})")
            if len(problems) >= limit:
                return problems
    return problems
