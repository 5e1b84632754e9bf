"""What the pipeline builds from a frame: the frame record, typed events, rows and messages.

Rows follow the catalog's table schemas exactly (the tests check every row against them, since
the local BigQuery emulator accepts wrong rows that BigQuery rejects): TIMESTAMPs as RFC 3339
strings, NUMERIC as decimal strings, repeated records as lists of dicts, ``payload`` as JSON text.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from contract import catalog, ingress
from contract.catalog import MessageType

__all__ = [
    "DeadLetter",
    "Frame",
    "ReferenceRecord",
    "TypedEvent",
    "dead_letter_message",
    "dead_letter_row",
    "dumps",
    "frame_dead_letter_row",
    "raw_row",
    "reference_message",
    "reference_row",
    "typed_message",
    "typed_row",
]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Decimals only come from JSON fractions; float() gives back the same shortest digits.
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text (orjson); Decimals become JSON numbers with their shortest digits."""
    option = orjson.OPT_SORT_KEYS if sort_keys else 0
    return orjson.dumps(value, default=_json_default, option=option).decode()


def canonical_json(message: dict[str, Any]) -> str:
    """A message as JSON text with sorted keys, for messages whose exact text is unknown."""
    return dumps(message, sort_keys=True)


@dataclass(slots=True)
class TypedEvent:
    """A valid Tote message of a typed catalog entry, normalised and ready to route.

    ``source`` says where the state came from (``subscription``: a websocket frame; ``query``: a
    reconciliation page, see ``contract.queries``) and ``as_of`` when it held (the frame's
    ``received_at``; a query page's ``request_started_at``), which orders states of one entity.
    """

    message_type: str
    key: str
    fingerprint: str
    values: dict[str, Any]
    message: dict[str, Any]
    payload_json: str
    source: str = ingress.SOURCE_SUBSCRIPTION
    as_of: str = ""

    @property
    def spec(self) -> MessageType:
        spec = catalog.by_name(self.message_type)
        assert spec is not None
        return spec


@dataclass(slots=True)
class DeadLetter:
    """Why a frame (or a row built from it) could not be processed."""

    stage: str
    reason: str
    stack_trace: str | None = None
    destination: str | None = None


@dataclass(slots=True)
class ReferenceRecord:
    """One reference entity (event, product, selection, competitor) learnt from a query page:
    a row for its append-only history table and a message for ``catalog.REFERENCE_TOPIC``."""

    kind: str
    entity_id: str
    table: str
    as_of: str
    values: dict[str, Any]
    event_id: str | None = None


@dataclass(slots=True)
class Frame:
    """One ingress message after parsing: always the raw bytes and attributes, plus typed events
    (one for a subscription frame, many for a query page), reference records (query pages), a
    raw-only classification (``message_type`` without events), or a dead letter.

    ``dedup_key`` groups the frame for deduplication: the entity key for typed events (a
    transport duplicate has identical bytes, hence the same key), a bounded shard otherwise.
    """

    data: bytes
    attributes: dict[str, str]
    frame_id: str
    received_at: str
    dedup_key: str
    message_type: str | None = None
    events: list[TypedEvent] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    ingested_at: str = field(default="")
    reference: list[ReferenceRecord] = field(default_factory=list)

    @property
    def event(self) -> TypedEvent | None:
        """The first typed event (a subscription frame carries at most one)."""
        return self.events[0] if self.events else None


def raw_row(frame: Frame) -> dict[str, Any]:
    """The ``raw_frames`` row: the frame exactly as received, once."""
    attrs = frame.attributes
    return {
        "frame_id": frame.frame_id,
        "received_at": frame.received_at,
        "connection_id": attrs.get(ingress.ATTR_CONNECTION_ID),
        "subscription": attrs.get(ingress.ATTR_SUBSCRIPTION),
        "protocol": attrs.get(ingress.ATTR_PROTOCOL),
        "message_type": frame.message_type,
        "data": frame.data.decode("utf-8", errors="replace"),
        "attributes": dumps(attrs),
        "ingested_at": frame.ingested_at,
    }


def typed_row(frame: Frame, event: TypedEvent | None = None) -> dict[str, Any]:
    """The row for ``event``'s typed table (common columns, then the type's columns);
    ``event`` defaults to the frame's first."""
    event = event or frame.event
    assert event is not None
    return {
        "frame_id": frame.frame_id,
        "received_at": frame.received_at,
        "message_type": event.message_type,
        "connection_id": frame.attributes.get(ingress.ATTR_CONNECTION_ID),
        "ingested_at": frame.ingested_at,
        "payload": event.payload_json,
        "source": event.source,
        "as_of": event.as_of or frame.received_at,
        **event.values,
    }


def typed_message(
    frame: Frame, event: TypedEvent | None = None
) -> tuple[str, bytes, dict[str, str]]:
    """``(topic, data, attributes)`` for ``event``'s typed topic (default: the frame's first).

    ``data`` carries the normalised values (money as decimal strings) and the original message;
    attributes carry the type and entity ids so subscribers can filter without parsing.
    """
    event = event or frame.event
    assert event is not None
    spec = event.spec
    as_of = event.as_of or frame.received_at
    head = dumps(
        {
            "message_type": event.message_type,
            "frame_id": frame.frame_id,
            "received_at": frame.received_at,
            "source": event.source,
            "as_of": as_of,
            "key": event.key,
            "data": event.values,
        }
    )
    body = f'{head[:-1]},"payload":{event.payload_json}}}'  # the payload text is built once
    attrs = {
        "message_type": event.message_type,
        "frame_id": frame.frame_id,
        "received_at": frame.received_at,
        "source": event.source,
        "as_of": as_of,
    }
    for col in spec.attribute_columns:
        value = event.values.get(col)
        if value:
            attrs[col] = str(value)
    assert spec.topic is not None
    return spec.topic, body.encode(), attrs


def dead_letter_row(
    data: bytes,
    attributes: dict[str, str],
    letter: DeadLetter,
    *,
    failed_at: str,
    frame_id: str | None,
    received_at: str | None,
    message_type: str | None,
) -> dict[str, Any]:
    """The ``dead_letters`` row: original bytes and attributes, stage, reason, trace, time."""
    return {
        "failed_at": failed_at,
        "stage": letter.stage,
        "reason": letter.reason,
        "stack_trace": letter.stack_trace,
        "frame_id": frame_id,
        "received_at": received_at,
        "message_type": message_type,
        "destination": letter.destination,
        "data_base64": base64.b64encode(data).decode("ascii"),
        "data_text": data.decode("utf-8", errors="replace"),
        "attributes": dumps(attributes),
    }


def frame_dead_letter_row(frame: Frame) -> dict[str, Any]:
    """The ``dead_letters`` row of a frame that carries a dead letter."""
    assert frame.dead_letter is not None
    return dead_letter_row(
        frame.data,
        frame.attributes,
        frame.dead_letter,
        failed_at=frame.ingested_at,
        frame_id=frame.frame_id,
        received_at=frame.received_at,
        message_type=frame.message_type,
    )


def dead_letter_message(row: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """``(topic, data, attributes)`` for the dead-letter topic: the whole record as JSON."""
    attrs = {"stage": row["stage"], "reason": row["reason"][:1000]}
    if row.get("frame_id"):
        attrs["frame_id"] = row["frame_id"]
    if row.get("message_type"):
        attrs["message_type"] = row["message_type"]
    return catalog.DEAD_LETTER_TOPIC, dumps(row).encode(), attrs


def reference_row(frame: Frame, record: ReferenceRecord) -> dict[str, Any]:
    """The row for a reference entity's history table (its ``table``)."""
    return {
        "reference_kind": record.kind,
        "frame_id": frame.frame_id,
        "received_at": frame.received_at,
        "as_of": record.as_of,
        "ingested_at": frame.ingested_at,
        **record.values,
    }


def reference_message(frame: Frame, record: ReferenceRecord) -> tuple[str, bytes, dict[str, str]]:
    """``(topic, data, attributes)`` for ``catalog.REFERENCE_TOPIC``."""
    data = dumps(
        {
            "kind": record.kind,
            "id": record.entity_id,
            "as_of": record.as_of,
            "values": record.values,
        }
    )
    attrs = {
        "kind": record.kind,
        "entity_id": record.entity_id,
        "frame_id": frame.frame_id,
        "as_of": record.as_of,
    }
    if record.event_id:
        attrs["event_id"] = record.event_id
    return catalog.REFERENCE_TOPIC, data.encode(), attrs
