"""Example query-response pages of a reconciliation sweep, shaped by Tote's gateway schema.

Pages answer the documents in ``contract.queries`` (``products(date)`` and ``events(since,
until)``) the way the gateway does: ``{"data": {<operation>: {"pageInfo", "nodes"}}}``, money as
JSON numbers, connections as ``nodes`` lists.  The ids are those of ``testsupport.examples``, so a
page's state can be compared with the example subscription messages.  Builders take keyword
overrides; :func:`query_page_message` adds the ingress attributes the connector's sweep sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contract import ingress
from testsupport.examples import COMPETITOR_ID, EVENT_ID, LEG_ID, PRODUCT_ID, SELECTION_ID

__all__ = [
    "COMPETITOR_2_ID",
    "COMPETITOR_ID",
    "EVENT_ID",
    "LEG_ID",
    "PRODUCT_ID",
    "SCHEDULED_START",
    "SELECTION_2_ID",
    "SELECTION_ID",
    "competitor_node",
    "dividend_line",
    "event_node",
    "events_page",
    "leg_node",
    "money",
    "page",
    "product_node",
    "products_page",
    "query_page_message",
    "selection_node",
]

SELECTION_2_ID = "c8f2d4e6-3333-4444-8555-b66677778888"
COMPETITOR_2_ID = f"{EVENT_ID}-DANCING-BRAVE"
SCHEDULED_START = "2026-01-31T19:25:00Z"
"""The example event's off (UTC; 19:25 in Europe/London in January)."""


def money(amount: float | str | None, code: str = "GBP") -> dict[str, Any] | None:
    """A gateway ``Money`` (``None`` stays ``None``: the gateway sends null for unknown money)."""
    if amount is None:
        return None
    return {"decimalAmount": amount, "currency": {"code": code}}


def selection_node(
    selection_id: str | None = SELECTION_ID,
    name: str = "SHE'S A JOKER",
    status: str = "AVAILABLE",
    competitor_id: str | None = COMPETITOR_ID,
) -> dict[str, Any]:
    """A ``BettingProductLegSelection`` as the products query selects it (an id of ``None``,
    here and in the other builders, makes a node the pipeline must skip)."""
    return {
        "id": selection_id,
        "name": name,
        "status": status,
        "competitor": {"id": competitor_id} if competitor_id else None,
    }


def leg_node(
    leg_id: str | None = LEG_ID,
    event_id: str = EVENT_ID,
    selections: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``BettingProductLeg``: its event and selections (default: two runners, one scratched)."""
    if selections is None:
        selections = [
            selection_node(),
            selection_node(SELECTION_2_ID, "DANCING BRAVE", "NOT_AVAILABLE", COMPETITOR_2_ID),
        ]
    return {"id": leg_id, "event": {"id": event_id}, "selections": {"nodes": selections}}


def dividend_line(
    name: str = "Base",
    status: str = "FINAL",
    amount: float | None = 3.4,
    legs: list[tuple[str, list[tuple[str, str]]]] | None = None,
    type_: str = "POOL",
) -> dict[str, Any]:
    """A ``DividendLine``: the dividend and the winning selections per leg."""
    legs = legs if legs is not None else [(LEG_ID, [(SELECTION_ID, "1")])]
    return {
        "dividend": {"name": name, "type": type_, "status": status, "amount": money(amount)},
        "dividendLegs": {
            "nodes": [
                {
                    "id": leg_id,
                    "dividendSelections": {
                        "nodes": [{"id": s, "finishingPosition": p} for s, p in selections]
                    },
                }
                for leg_id, selections in legs
            ]
        },
    }


def product_node(
    product_id: str | None = PRODUCT_ID,
    *,
    name: str = "NEWCASTLE RACE 3 - WIN",
    bet_type: str = "WIN",
    selling_status: str = "OPEN",
    gross: float | None = 6645.4,
    net: float | None = 5316.32,
    currency: str = "GBP",
    legs: list[dict[str, Any]] | None = None,
    result_status: str | None = None,
    dividends: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``BettingProduct`` node of the products query (``result`` only once resulted)."""
    details: dict[str, Any] = {
        "betType": {"code": bet_type},
        "selling": {"status": selling_status},
        "pool": {
            "total": {"grossAmount": money(gross, currency), "netAmount": money(net, currency)}
        },
        "legs": {"nodes": legs if legs is not None else [leg_node()]},
        "result": None,
    }
    if result_status is not None or dividends is not None:
        details["result"] = {
            "status": result_status or "FINAL",
            "dividends": {"nodes": dividends or []},
        }
    return {"id": product_id, "name": name, "type": details}


def competitor_node(
    competitor_id: str | None = COMPETITOR_ID,
    name: str = "SHE'S A JOKER",
    entry_status: str = "CONFIRMED",
    *,
    cloth_number: int | None = 3,
    trap_number: int | None = None,
) -> dict[str, Any]:
    """A competitor of the events query, with horse (cloth) or greyhound (trap) details."""
    details: dict[str, Any] = {}
    if cloth_number is not None:
        details["clothNumber"] = cloth_number
    if trap_number is not None:
        details["trapNumber"] = trap_number
    return {"id": competitor_id, "name": name, "entryStatus": entry_status, "details": details}


def event_node(
    event_id: str = EVENT_ID,
    *,
    name: str = "NEWCASTLE 19:25",
    status: str = "SCHEDULED",
    start: str | None = SCHEDULED_START,
    venue: str = "Newcastle",
    country: str = "GB",
    competitors: list[object] | None = None,  # a node that is not an object must be skipped
    result_status: str | None = None,
    results: list[tuple[str, str | None, str]] | None = None,
) -> dict[str, Any]:
    """An ``Event`` node of the events query; ``results`` = ``[(competitor, position, status)]``."""
    if competitors is None:
        competitors = [
            competitor_node(),
            competitor_node(COMPETITOR_2_ID, "DANCING BRAVE", "WITHDRAWN", cloth_number=7),
        ]
    result = None
    if result_status is not None or results is not None:
        result = {
            "status": result_status or "FINAL",
            "results": {
                "nodes": [
                    {"id": c, "name": None, "finishingPosition": p, "status": s}
                    for c, p, s in results or []
                ]
            },
        }
    return {
        "id": event_id,
        "name": name,
        "status": status,
        "scheduledStartDateTime": {"iso8601": start} if start else None,
        "venue": {"name": venue, "country": {"alpha2Code": country}},
        "eventCompetitors": {"nodes": competitors},
        "result": result,
    }


def page(
    operation: str,
    nodes: list[Any] | None,
    *,
    has_next: bool = False,
    end_cursor: str | None = "cursor-1",
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A response body: ``data.<operation>`` (``None`` nodes → ``data: null``) and ``errors``."""
    body: dict[str, Any] = {
        "data": None
        if nodes is None
        else {
            operation: {
                "pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor},
                "nodes": nodes,
            }
        }
    }
    if errors is not None:
        body["errors"] = errors
    return body


def products_page(*nodes: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A products page (default: the one example product)."""
    return page("products", list(nodes) or [product_node()], **kwargs)


def events_page(*nodes: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An events page (default: the one example event)."""
    return page("events", list(nodes) or [event_node()], **kwargs)


def query_page_message(
    body: dict[str, Any] | bytes,
    operation: str,
    *,
    page_number: int = 1,
    request_started_at: datetime | None = None,
    received_at: datetime | None = None,
    frame_id: str | None = None,
    sweep_id: str = "sweep-example",
) -> tuple[bytes, dict[str, str]]:
    """``(data, attributes)`` as the connector's sweep publishes one response page."""
    started = request_started_at or datetime.now(UTC)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return data, ingress.query_page_attributes(
        frame_id=frame_id or ingress.new_id(),
        received_at=received_at or started,
        connection_id="conn-sweeper",
        operation=operation,
        sweep_id=sweep_id,
        page=page_number,
        request_started_at=started,
        request_id=f"req{page_number:04d}",
    )
