"""Parse → validate → normalise one ingress message into a :class:`~pipeline.records.Frame`.

This is the whole per-frame domain logic as one plain function; the Beam ``ParseFrames`` step is a
thin shell over it.  It never raises for bad input: whatever cannot be processed comes back as a
frame with a :class:`~pipeline.records.DeadLetter` (stage + reason + trace), so nothing is lost.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from datetime import UTC, datetime

from contract import ingress
from pipeline import dedup, query_pages, records
from pipeline.envelope import FrameError, parse_envelope
from pipeline.normalize import ValidationError, normalize
from pipeline.records import DeadLetter, Frame, TypedEvent, canonical_json

__all__ = ["TEST_MESSAGE_TYPE", "process_frame"]

TEST_MESSAGE_TYPE = "ConnectorTest"
"""``message_type`` recorded in the raw table for the connector's ``/test-pubsub`` messages."""

# Hoisted for the per-frame path (a module global is one lookup, ``module.name`` two).
_ATTR_RECEIVED_AT = ingress.ATTR_RECEIVED_AT
_ATTR_SOURCE = ingress.ATTR_SOURCE
_ATTR_SUBSCRIPTION = ingress.ATTR_SUBSCRIPTION
_ATTR_TEST = ingress.ATTR_TEST
_MAX_FRAME_BYTES = ingress.MAX_FRAME_BYTES
_REQUIRED = ingress.REQUIRED_ATTRIBUTES
_SOURCE_QUERY = ingress.SOURCE_QUERY
_canonical_timestamp = ingress.canonical_timestamp
_entity_key = dedup.entity_key
_fingerprint = dedup.fingerprint


def _dead(
    data: bytes,
    attrs: dict[str, str],
    frame_id: str,
    received_at: str,
    ingested_at: str,
    stage: str,
    reason: str,
    message_type: str | None = None,
    trace: str | None = None,
) -> Frame:
    return Frame(
        data=data,
        attributes=attrs,
        frame_id=frame_id,
        received_at=received_at,
        dedup_key=dedup.shard_key("dead", frame_id),
        message_type=message_type,
        dead_letter=DeadLetter(stage, reason, trace),
        ingested_at=ingested_at,
    )


def process_frame(
    data: bytes,
    attributes: Mapping[str, str] | None,
    *,
    message_id: str | None = None,
    publish_time: datetime | None = None,
    now: datetime | str | None = None,
) -> Frame:
    """Turn one ingress Pub/Sub message into a frame record (typed, raw-only or dead letter).

    ``message_id``/``publish_time`` stand in for a missing ``frame_id``/``received_at`` so the
    frame can still be stored and deduplicated; the contract violation is dead-lettered.
    ``now`` (a datetime or an already formatted timestamp) is the ingestion time; callers that
    process many frames at once pass one value for all of them.

    Never raises: everything done per frame (attributes, parsing, keys, fingerprints) is inside
    one boundary, because an exception here would be retried forever by Dataflow (a poison pill
    that holds back the frames bundled with it).  A bug becomes an ``internal`` dead letter.
    """
    if isinstance(now, str):
        ingested_at = now
    else:
        ingested_at = ingress.format_timestamp(now or datetime.now(UTC))
    data = data if isinstance(data, bytes) else bytes(data or b"")
    attrs: dict[str, str] = {}
    frame_id: str | None = None
    received_at = ingested_at
    try:
        attrs = dict(attributes or {})  # Pub/Sub: str → str (anything else ends as internal)
        frame_id = attrs.get(ingress.ATTR_FRAME_ID) or f"pubsub-{message_id or ingress.new_id()}"
        if publish_time is not None:
            received_at = ingress.format_timestamp(publish_time)
        return _process(data, attrs, frame_id, received_at, ingested_at)
    except Exception as exc:  # noqa: BLE001 - a bug, not bad input: keep the frame and its trace
        if attrs:
            attrs = records.bounded_attributes(attrs)
        frame_id = frame_id or f"pubsub-{message_id or ingress.new_id()}"
        return _dead(
            data,
            attrs,
            records.cut_utf8(frame_id, records.MAX_ATTRIBUTE_VALUE_BYTES),
            received_at,
            ingested_at,
            "internal",
            f"{type(exc).__name__}: {exc}",
            trace=traceback.format_exc(),
        )


def _process(
    data: bytes, attrs: dict[str, str], frame_id: str, fallback_time: str, ingested_at: str
) -> Frame:
    """:func:`process_frame` without the boundary: may raise only on a bug."""
    problem = records.attribute_problem(attrs)  # its fast path is two C-level joins
    if problem is not None:  # only the emulator lets these through; keep the rows bounded
        attrs = records.bounded_attributes(attrs)
        frame_id = attrs.get(ingress.ATTR_FRAME_ID) or frame_id
        return _dead(data, attrs, frame_id, fallback_time, ingested_at, "contract", problem)
    raw_received = attrs.get(_ATTR_RECEIVED_AT)
    try:
        received_at = _canonical_timestamp(raw_received) if raw_received else fallback_time
    except ValueError as exc:
        return _dead(data, attrs, frame_id, fallback_time, ingested_at, "contract", str(exc))

    if not all(map(attrs.get, _REQUIRED)):  # C-level: the usual all-present case
        missing = [a for a in ingress.REQUIRED_ATTRIBUTES if not attrs.get(a)]
        reason = "missing ingress attribute(s): " + ", ".join(missing)
        return _dead(data, attrs, frame_id, received_at, ingested_at, "contract", reason)
    if len(data) > _MAX_FRAME_BYTES:
        reason = f"oversized frame: {len(data)} bytes > {ingress.MAX_FRAME_BYTES}"
        return _dead(data, attrs, frame_id, received_at, ingested_at, "oversized", reason)
    if attrs.get(_ATTR_TEST) == "true":
        return Frame(
            data=data,
            attributes=attrs,
            frame_id=frame_id,
            received_at=received_at,
            dedup_key=dedup.shard_key(TEST_MESSAGE_TYPE, frame_id),
            message_type=TEST_MESSAGE_TYPE,
            ingested_at=ingested_at,
        )

    if attrs.get(_ATTR_SOURCE) == _SOURCE_QUERY:  # a reconciliation sweep's page
        return query_pages.page_frame(data, attrs, frame_id, received_at, ingested_at)

    message_type: str | None = None
    try:
        envelope = parse_envelope(data, attrs.get(_ATTR_SUBSCRIPTION))
        spec = envelope.message_type
        message_type = spec.name
        if spec.table is None:  # subscribed, stored raw only
            return Frame(
                data=data,
                attributes=attrs,
                frame_id=frame_id,
                received_at=received_at,
                dedup_key=dedup.shard_key(spec.name, frame_id),
                message_type=spec.name,
                ingested_at=ingested_at,
            )
        values = normalize(spec, envelope.message)
    except (FrameError, ValidationError) as exc:
        if isinstance(exc, FrameError):
            stage, reason = exc.stage, exc.reason
        else:
            stage, reason = "validate", str(exc)
        return _dead(
            data,
            attrs,
            frame_id,
            received_at,
            ingested_at,
            stage,
            reason,
            message_type,
            traceback.format_exc(),
        )

    key = _entity_key(spec.name, [values.get(c) for c in spec.key_columns])
    # The message exactly as Tote sent it, stored as ``payload``; semantic dedup compares the
    # normalised values instead (``dedup.fingerprint``), however Tote spelt them.
    payload_json = envelope.message_text or canonical_json(envelope.message)
    event = TypedEvent(
        message_type=spec.name,
        key=key,
        fingerprint=_fingerprint(spec.name, values),
        values=values,
        payload_json=payload_json,
        as_of=received_at,
    )
    return Frame(
        data=data,
        attributes=attrs,
        frame_id=frame_id,
        received_at=received_at,
        dedup_key=key,
        message_type=spec.name,
        events=[event],
        ingested_at=ingested_at,
    )
