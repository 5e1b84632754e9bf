"""Typed-topic messages exactly as the pipeline publishes them (see the web app issue)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from contract import catalog
from webapp.events import REFERENCE_TOPIC

PRODUCT = "3f1c6a9e-0b4d-4c1e-9a57-2d6f4f1b7c10"
EVENT = "HORSERACING-NEWCASTLE-GB-2026-01-31-1925"


RECEIVED_AT = "2026-11-26T14:03:07.123Z"

WEBAPP_TOPICS: tuple[str, ...] = (*(t.name for t in catalog.TOPICS), REFERENCE_TOPIC)
"""Every topic a web app instance subscribes to."""


def typed_message(
    message_type: str,
    data: dict[str, Any],
    payload: dict[str, Any] | None = None,
    received_at: str = RECEIVED_AT,
) -> tuple[bytes, dict[str, str], str]:
    """(data bytes, attributes, topic name) of one typed-topic message."""
    spec = catalog.by_name(message_type)
    assert spec is not None and spec.topic is not None
    frame_id = uuid.uuid4().hex
    body = {
        "message_type": message_type,
        "frame_id": frame_id,
        "received_at": received_at,
        "key": message_type + "|" + "|".join(str(data.get(k, "")) for k in spec.key_columns),
        "data": data,
        "payload": payload if payload is not None else {"unknownField": 1},
    }
    attributes = {
        "message_type": message_type,
        "frame_id": frame_id,
        "received_at": str(body["received_at"]),
    }
    for column in spec.attribute_columns:
        if data.get(column):
            attributes[column] = str(data[column])
    return json.dumps(body).encode(), attributes, spec.topic


def pool_total(
    amount: str, product_id: str = PRODUCT, received_at: str = RECEIVED_AT
) -> tuple[bytes, dict[str, str], str]:
    return typed_message(
        "PoolTotalChanged",
        {
            "product_id": product_id,
            "is_finalized": False,
            "gross_amounts": [{"amount": amount, "currency": "GBP"}],
            "net_amounts": [{"amount": amount, "currency": "GBP"}],
        },
        {
            "productId": product_id.upper(),
            "isFinalized": False,
            "total": {
                "grossAmounts": [{"decimalAmount": float(amount), "currency": {"code": "GBP"}}]
            },
        },
        received_at=received_at,
    )


def event_status(status: str, event_id: str = EVENT) -> tuple[bytes, dict[str, str], str]:
    return typed_message("EventStatusChanged", {"event_id": event_id, "status": status})


def product_status(status: str, product_id: str = PRODUCT) -> tuple[bytes, dict[str, str], str]:
    return typed_message("ProductStatusChanged", {"product_id": product_id, "status": status})


def reference(
    kind: str,
    entity_id: str,
    values: dict[str, Any],
    as_of: str = "2026-11-26T09:00:00.000Z",
    frame_id: str | None = None,
    event_id: str | None = None,
) -> tuple[bytes, dict[str, str], str]:
    """(data bytes, attributes, topic name) of one ``tote-reference`` message, shaped like
    ``pipeline.records.reference_message``."""
    frame_id = frame_id or uuid.uuid4().hex
    body = {"kind": kind, "id": entity_id, "as_of": as_of, "values": values}
    attributes = {"kind": kind, "entity_id": entity_id, "frame_id": frame_id, "as_of": as_of}
    event_id = event_id or values.get("event_id")
    if event_id:
        attributes["event_id"] = event_id
    return json.dumps(body).encode(), attributes, "tote-reference"


def race_day(
    races: int = 60, pools_per_race: int = 8, runners: int = 10, start_hour: int = 12
) -> list[tuple[bytes, dict[str, str], str]]:
    """A whole race day's reference data and messages (statuses, totals, results, dividends)."""
    out: list[tuple[bytes, dict[str, str], str]] = []
    bet_types = ["WIN", "PLACE", "EXACTA", "TRIFECTA", "SWINGER", "QUADPOT", "PLACEPOT", "JACKPOT"]
    for r in range(races):
        venue = ("Newcastle", "Ascot", "Kempton", "Wolverhampton")[r % 4]
        hour, minute = start_hour + r // 6, (r % 6) * 10
        event = f"HORSERACING-{venue.upper()}-GB-2026-11-26-{hour:02d}{minute:02d}"
        start = f"2026-11-26T{hour:02d}:{minute:02d}:00.000Z"
        out.append(
            reference(
                "event",
                event,
                {
                    "event_id": event,
                    "name": f"Race {r}",
                    "venue": venue,
                    "country": "GB",
                    "scheduled_start": start,
                    "status": "SCHEDULED",
                },
            )
        )
        competitors = [f"{event}-RUNNER-{n}" for n in range(runners)]
        for n, competitor in enumerate(competitors):
            out.append(
                reference(
                    "competitor",
                    competitor,
                    {
                        "competitor_id": competitor,
                        "event_id": event,
                        "name": f"Runner {n}",
                        "entry_status": "RUNNER",
                        "cloth_number": n + 1,
                    },
                )
            )
            out.append(
                typed_message(
                    "CompetitorStatusChanged",
                    {"event_id": event, "competitor_id": competitor, "status": "RUNNER"},
                )
            )
        for p in range(pools_per_race):
            product = str(uuid.UUID(int=r * 100 + p))
            out.append(
                reference(
                    "product",
                    product,
                    {
                        "product_id": product,
                        "name": bet_types[p % 8],
                        "bet_type": bet_types[p % 8],
                        "selling_status": "OPEN",
                        "currency": "GBP",
                        "event_ids": [event],
                        "leg_ids": [],
                    },
                    event_id=event,
                )
            )
            out.append(product_status("OPEN", product))
            for n in range(runners):
                selection = str(uuid.UUID(int=(r * 100 + p) * 100 + n))
                out.append(
                    typed_message(
                        "SelectionStatusChanged",
                        {
                            "product_id": product,
                            "leg_id": None,
                            "selection_id": selection,
                            "status": "VALID",
                        },
                    )
                )
            for k in range(5):
                out.append(pool_total(f"{1000 + k * 10}.00", product))
            out.append(
                typed_message(
                    "PoolDividendChanged",
                    {
                        "product_id": product,
                        "dividends": [
                            {
                                "name": "Base",
                                "type": "POOL",
                                "status": "FINAL",
                                "amount": "3.40",
                                "currency": "GBP",
                                "selection_ids": [],
                            }
                        ],
                    },
                )
            )
        out.append(event_status("OFF", event))
        out.append(
            typed_message(
                "EventResultChanged",
                {
                    "event_id": event,
                    "result_status": "FINAL",
                    "competitor_results": [
                        {
                            "competitor_id": competitors[0],
                            "finishing_position": "1",
                            "status": "FINISHED",
                        }
                    ],
                },
            )
        )
    return out
