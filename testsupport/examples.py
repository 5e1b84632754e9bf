"""Example Tote messages of every catalog type, shaped as ``shared/tote-api.md`` describes them.

Used by the unit tests, the benchmarks and the docs; the simulator generates its own race day.
``frame()`` wraps a message in either subprotocol's data frame; ``ingress()`` adds the contract's
attributes, as the connector would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contract import catalog, ingress

__all__ = ["EVENT_ID", "PRODUCT_ID", "example_message", "frame", "ingress_message"]

PRODUCT_ID = "3f1c6a9e-5b7d-4c2e-9a1f-0d8e7b6c5a41"
LEG_ID = "a2b4c6d8-1111-4222-8333-944455556666"
SELECTION_ID = "b7e1c3d5-2222-4333-8444-a55566667777"
EVENT_ID = "HORSERACING-NEWCASTLE-GB-2026-01-31-1925"
COMPETITOR_ID = f"{EVENT_ID}-SHE'S-A-JOKER"
BET_ID = "0f3a5c7e9b1d2f4a6c8e0a2b4d6f8a1c"


def _money(amount: float, code: str = "GBP") -> dict[str, Any]:
    return {"decimalAmount": amount, "currency": {"code": code}}


def example_message(name: str, **overrides: Any) -> dict[str, Any]:
    """A realistic message object for catalog type ``name`` (camelCase, as Tote sends it)."""
    bet = {"betId": BET_ID, "customerBetId": "cust-000123"}
    messages: dict[str, dict[str, Any]] = {
        "PoolTotalChanged": {
            "productId": PRODUCT_ID,
            "isFinalized": False,
            "total": {"grossAmounts": [_money(6645.4)], "netAmounts": [_money(5316.32)]},
        },
        "ProductStatusChanged": {"productId": PRODUCT_ID, "status": "OPEN"},
        "SelectionStatusChanged": {
            "productId": PRODUCT_ID,
            "legId": LEG_ID,
            "selectionId": SELECTION_ID,
            "status": "Active",
        },
        "PoolDividendChanged": {
            "productId": PRODUCT_ID,
            "dividends": [
                {
                    "dividend": {
                        "name": "Base",
                        "type": "POOL",
                        "status": "PROVISIONAL",
                        "amount": _money(12.7),
                    },
                    "legs": [
                        {
                            "legId": LEG_ID,
                            "selections": [{"id": SELECTION_ID, "finishingPosition": 1}],
                        }
                    ],
                }
            ],
        },
        "EventStatusChanged": {"eventId": EVENT_ID, "status": "STARTED"},
        "EventResultChanged": {
            "eventId": EVENT_ID,
            "status": "PROVISIONAL",
            "competitorResults": [
                {"competitorId": COMPETITOR_ID, "finishingPosition": "1", "status": "PROVISIONAL"}
            ],
        },
        "CompetitorStatusChanged": {
            "eventId": EVENT_ID,
            "competitorId": COMPETITOR_ID,
            "status": "WITHDRAWN",
        },
        "BetAccepted": dict(bet),
        "BetRejected": {**bet, "reason": "Product was not open"},
        "BetFailed": {**bet, "reason": "Insufficient funds"},
        "BetCancelled": dict(bet),
        "BetResulted": {**bet, "status": "WON", "returns": _money(25.5)},
        "BetSettled": {**bet, "status": "SETTLED"},
        "EventUpdated": {"eventId": EVENT_ID},
        "LinesChanged": {"__typename": "LinesChanged"},
    }
    return {**messages[name], **overrides}


def frame(
    name: str,
    message: dict[str, Any] | None = None,
    *,
    protocol: str = "graphql-ws",
    op_id: str = "1",
) -> bytes:
    """A data frame (``data`` on graphql-ws, ``next`` on graphql-transport-ws) carrying it."""
    spec = catalog.by_name(name)
    assert spec is not None, name
    body = {spec.field: message if message is not None else example_message(name)}
    kind = "data" if protocol == "graphql-ws" else "next"
    return json.dumps({"id": op_id, "type": kind, "payload": {"data": body}}).encode()


def ingress_message(
    data: bytes,
    *,
    frame_id: str | None = None,
    subscription: str | None = None,
    protocol: str = "graphql-ws",
    received_at: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """``(data, attributes)`` as the connector publishes a frame."""
    return data, ingress.ingress_attributes(
        frame_id=frame_id or ingress.new_id(),
        received_at=received_at or datetime.now(UTC),
        connection_id="conn-example",
        protocol=protocol,
        subscription=subscription,
    )
