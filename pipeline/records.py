"""What the pipeline builds from a frame: the frame record, typed events, rows and messages.

Rows follow the catalog's table schemas exactly (the tests check every row against them, since
the local BigQuery emulator accepts wrong rows that BigQuery rejects): TIMESTAMPs as RFC 3339
strings, NUMERIC as decimal strings, repeated records as lists of dicts, ``payload`` as JSON text.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from contract import catalog, ingress
from contract.catalog import MessageType

__all__ = [
    "DEAD_LETTER_MAX_DATA_BYTES",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_KEY_BYTES",
    "MAX_ATTRIBUTE_VALUE_BYTES",
    "MAX_REASON_CHARS",
    "MAX_TRACE_CHARS",
    "PUBSUB_MAX_MESSAGE_BYTES",
    "DeadLetter",
    "Frame",
    "ReferenceRecord",
    "TypedEvent",
    "attribute_problem",
    "bounded_attributes",
    "canonical_json_bytes",
    "cut_utf8",
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


# --- Limits every row and message built here stays within ---------------------------------------

PUBSUB_MAX_MESSAGE_BYTES = 10_000_000
"""Pub/Sub refuses a publish request larger than this (data + attributes)."""
MAX_ATTRIBUTES = 100
"""Pub/Sub's limit on attributes per message."""
MAX_ATTRIBUTE_KEY_BYTES = 256
"""Pub/Sub's limit on an attribute key, in UTF-8 bytes."""
MAX_ATTRIBUTE_VALUE_BYTES = 1024
"""Pub/Sub's limit on an attribute value, in UTF-8 bytes (not characters)."""
DEAD_LETTER_MAX_DATA_BYTES = ingress.MAX_FRAME_BYTES
"""A dead letter keeps at most this many bytes of the original frame (base64 and as text); a
longer one keeps this prefix and names the whole frame's size and SHA-256 in its reason.  The
worst case (1 MB of control characters, JSON-escaped 6x, plus its base64) stays under 10 MB,
the limit of both a Pub/Sub message and a BigQuery row."""
MAX_REASON_CHARS = 4_000
"""A dead letter's reason is cut here (a GraphQL error can carry a frame-sized message)."""
MAX_TRACE_CHARS = 16_000
"""A dead letter's stack trace is cut here (its last lines, where the error is, are kept)."""


def cut_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, on a character boundary."""
    if len(text) * 4 <= max_bytes:  # cannot be too long: skip the encode
        return text
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def attribute_problem(attributes: dict[str, str]) -> str | None:
    """Why these attributes break Pub/Sub's limits (only an emulator delivers such), or ``None``."""
    if (  # fast path: all values (keys) together are too short to break a limit even at 4
        # bytes a character — two C-level joins, cheaper than measuring each string
        len(attributes) <= MAX_ATTRIBUTES
        and len("".join(attributes.values())) * 4 <= MAX_ATTRIBUTE_VALUE_BYTES
        and len("".join(attributes)) * 4 <= MAX_ATTRIBUTE_KEY_BYTES
    ):
        return None
    if (  # each string short enough even at 4 bytes a character
        len(attributes) <= MAX_ATTRIBUTES
        and max(map(len, attributes.values()), default=0) * 4 <= MAX_ATTRIBUTE_VALUE_BYTES
        and max(map(len, attributes), default=0) * 4 <= MAX_ATTRIBUTE_KEY_BYTES
    ):
        return None
    if len(attributes) > MAX_ATTRIBUTES:
        return f"{len(attributes)} attributes, more than Pub/Sub's {MAX_ATTRIBUTES}"
    for key, value in attributes.items():
        if len(key.encode("utf-8", errors="replace")) > MAX_ATTRIBUTE_KEY_BYTES:
            return f"attribute key longer than {MAX_ATTRIBUTE_KEY_BYTES} bytes: {key[:40]!r}..."
        if len(value) * 4 > MAX_ATTRIBUTE_VALUE_BYTES and (
            len(value.encode("utf-8", errors="replace")) > MAX_ATTRIBUTE_VALUE_BYTES
        ):
            return f"attribute {key[:40]!r} longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
    return None


def bounded_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """Attributes cut to Pub/Sub's limits (the first :data:`MAX_ATTRIBUTES`, keys and values cut)."""
    out: dict[str, str] = {}
    for key, value in list(attributes.items())[:MAX_ATTRIBUTES]:
        out[cut_utf8(key, MAX_ATTRIBUTE_KEY_BYTES)] = cut_utf8(value, MAX_ATTRIBUTE_VALUE_BYTES)
    return out


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


def canonical_json_bytes(message: dict[str, Any]) -> bytes:
    """:func:`canonical_json` as UTF-8 bytes (what a digest needs: no decode and re-encode)."""
    return orjson.dumps(message, default=_json_default, option=orjson.OPT_SORT_KEYS)


@dataclass(slots=True)
class TypedEvent:
    """A valid Tote message of a typed catalog entry, normalised and ready to route.

    ``source`` says where the state came from (``subscription``: a websocket frame; ``query``: a
    reconciliation page, see ``contract.queries``) and ``as_of`` when it held (the frame's
    ``received_at``; a query page's ``request_started_at``), which orders states of one entity.
    The message itself travels only as ``payload_json``, its exact text (nothing downstream reads
    the parsed object, and carrying it doubled what every shuffle encodes).
    """

    message_type: str
    key: str
    fingerprint: str
    values: dict[str, Any]
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
        "data": frame.data[: ingress.MAX_FRAME_BYTES].decode("utf-8", errors="replace"),
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
            attrs[col] = cut_utf8(str(value), MAX_ATTRIBUTE_VALUE_BYTES)
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
    """The ``dead_letters`` row: original bytes and attributes, stage, reason, trace, time.

    Always a row BigQuery accepts and a message Pub/Sub accepts, whatever it is given (a dead
    letter that cannot be written is a frame lost, or a bundle retried forever): ``failed_at``
    and ``received_at`` that are not valid timestamps are replaced (``received_at`` by ``None``;
    the bad text goes into the reason), the reason and trace are cut, and a frame longer than
    :data:`DEAD_LETTER_MAX_DATA_BYTES` keeps its prefix plus its size and SHA-256.
    """
    reason = letter.reason
    if received_at is not None and not _valid_timestamp(received_at):
        reason = f"{reason} (invalid received_at {cut_utf8(str(received_at), 100)!r})"
        received_at = None
    if not _valid_timestamp(failed_at):
        failed_at = ingress.format_timestamp(datetime.now(UTC))
    if len(data) > DEAD_LETTER_MAX_DATA_BYTES:
        digest = hashlib.sha256(data).hexdigest()
        reason = (
            f"{reason} [data truncated: first {DEAD_LETTER_MAX_DATA_BYTES} of {len(data)} bytes"
            f" kept; sha256={digest}]"
        )
        data = data[:DEAD_LETTER_MAX_DATA_BYTES]
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 40] + f"... [{len(reason)} characters]"
    trace = letter.stack_trace
    if trace is not None and len(trace) > MAX_TRACE_CHARS:
        trace = "...\n" + trace[-MAX_TRACE_CHARS:]
    return {
        "failed_at": failed_at,
        "stage": letter.stage,
        "reason": reason,
        "stack_trace": trace,
        "frame_id": None if frame_id is None else cut_utf8(frame_id, MAX_ATTRIBUTE_VALUE_BYTES),
        "received_at": received_at,
        "message_type": message_type,
        "destination": letter.destination,
        "data_base64": base64.b64encode(data).decode("ascii"),
        "data_text": data.decode("utf-8", errors="replace"),
        "attributes": dumps(bounded_attributes(attributes)),
    }


def _valid_timestamp(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        ingress.canonical_timestamp(text)
    except ValueError:
        return False
    return True


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
    attrs = {"stage": row["stage"], "reason": row["reason"]}
    if row.get("frame_id"):
        attrs["frame_id"] = row["frame_id"]
    if row.get("message_type"):
        attrs["message_type"] = row["message_type"]
    attrs = {k: cut_utf8(str(v), MAX_ATTRIBUTE_VALUE_BYTES) for k, v in attrs.items()}
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
    attrs = {k: cut_utf8(v, MAX_ATTRIBUTE_VALUE_BYTES) for k, v in attrs.items()}
    return catalog.REFERENCE_TOPIC, data.encode(), attrs
