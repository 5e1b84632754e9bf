"""Typed-topic messages exactly as the pipeline publishes them (see the web app issue)."""

from __future__ import annotations

import json
import uuid

from contract import catalog

PRODUCT = "3f1c6a9e-0b4d-4c1e-9a57-2d6f4f1b7c10"
EVENT = "HORSERACING-NEWCASTLE-GB-2026-01-31-1925"


RECEIVED_AT = "2026-11-26T14:03:07.123Z"


def typed_message(
    message_type: str, data: dict, payload: dict | None = None, received_at: str = RECEIVED_AT
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
        "received_at": body["received_at"],
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
