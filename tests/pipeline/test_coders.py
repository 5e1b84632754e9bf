"""The versioned coders of shuffled elements and keyed state: exact round trips, loud failures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import apache_beam as beam
import orjson
import pytest

from contract import ingress
from pipeline.coders import (
    EntityStateCoder,
    FrameCoder,
    ShardedEntityStateCoder,
    ShardedSeenCoder,
    UnknownCoderVersion,
)
from pipeline.core import process_frame
from pipeline.dedup import EntityState
from pipeline.records import Frame, ReferenceRecord, TypedEvent
from testsupport import examples


def _frame(data: bytes, frame_id: str = "f1") -> Frame:
    _, attrs = examples.ingress_message(b"", frame_id=frame_id)
    return process_frame(data, attrs)


def _query_page() -> Frame:
    frame = _frame(examples.frame("PoolTotalChanged"), "page")
    event = frame.events[0]
    query = TypedEvent(
        message_type=event.message_type,
        key=event.key,
        fingerprint=event.fingerprint,
        values={**event.values, "net_amounts": None},
        payload_json='{"total":{"grossAmounts":[{"decimalAmount":1881.80}]}}',
        source=ingress.SOURCE_QUERY,
        as_of="2026-11-26T14:03:07.123Z",
    )
    frame.events = [event, query]
    frame.reference = [
        ReferenceRecord("event", "E1", "events", "2026-11-26T14:03:07.123Z", {"a": 1}, "E1")
    ]
    return frame


@pytest.mark.parametrize(
    "frame",
    [
        _frame(examples.frame("PoolTotalChanged")),  # Decimals in the message
        _frame(b"\xff{not json", "bad"),  # a dead letter with a trace; bytes not UTF-8
        _frame(examples.frame("EventUpdated"), "raw-only"),
        _query_page(),
    ],
    ids=["typed", "dead-letter", "raw-only", "query-page"],
)
def test_frame_round_trips_exactly(frame):
    coder = FrameCoder()
    decoded = coder.decode(coder.encode(frame))
    assert decoded == frame
    assert repr(decoded) == repr(frame)  # types too: Decimals stay Decimals, not floats


def test_frame_payload_text_and_values_come_back_exact():
    data = examples.frame("PoolTotalChanged").replace(b"6645.4", b"1881.80")
    frame = _frame(data)
    decoded = FrameCoder().decode(FrameCoder().encode(frame))
    assert decoded.event is not None
    assert '"decimalAmount": 1881.80' in decoded.event.payload_json  # as Tote spelt it
    assert decoded.event.values["gross_amounts"][0]["amount"] == "1881.80"


def test_frames_are_written_as_version_2_without_the_parsed_message():
    encoded = FrameCoder().encode(_frame(examples.frame("PoolTotalChanged")))
    assert encoded[0] == 2
    assert b'"message"' not in encoded and b"$decimal" not in encoded


def _version_1(frame: Frame, message: dict[str, Any]) -> bytes:
    """The bytes the previous job's coder (version 1) wrote: each event also held its parsed
    message, Decimals tagged ``{"$decimal": text}``."""

    def tagged(value: object) -> object:
        if isinstance(value, Decimal):
            return {"$decimal": str(value)}
        raise TypeError(type(value))

    event = frame.event
    assert event is not None
    fields = {
        "attributes": frame.attributes,
        "frame_id": frame.frame_id,
        "received_at": frame.received_at,
        "dedup_key": frame.dedup_key,
        "message_type": frame.message_type,
        "events": [
            {
                "message_type": event.message_type,
                "key": event.key,
                "fingerprint": event.fingerprint,
                "values": event.values,
                "message": message,
                "payload_json": event.payload_json,
                "source": event.source,
                "as_of": event.as_of,
            }
        ],
        "dead_letter": None,
        "ingested_at": frame.ingested_at,
        "reference": [],
    }
    body = orjson.dumps(fields, default=tagged)
    return b"\x01" + len(frame.data).to_bytes(4, "big") + frame.data + body


def test_version_1_frames_in_flight_across_an_update_still_decode():
    frame = _frame(examples.frame("PoolTotalChanged"))
    message = {"total": {"grossAmounts": [{"decimalAmount": Decimal("6645.4")}]}}
    decoded = FrameCoder().decode(_version_1(frame, message))
    assert decoded == frame
    assert repr(decoded) == repr(frame)


def test_unknown_version_fails_loudly():
    encoded = FrameCoder().encode(_frame(examples.frame("PoolTotalChanged")))
    with pytest.raises(UnknownCoderVersion, match="Frame: unknown encoding version 3"):
        FrameCoder().decode(b"\x03" + encoded[1:])
    with pytest.raises(UnknownCoderVersion, match="version nothing"):
        FrameCoder().decode(b"")
    state = EntityStateCoder().encode(EntityState("fp", {}, None, 1))
    with pytest.raises(UnknownCoderVersion, match="EntityState"):
        EntityStateCoder().decode(b"\x07" + state[1:])


def test_state_coders_round_trip():
    state = EntityState("fp", {"a": "01", "b": "02"}, "2026-11-26T14:03:07.123Z", 1_700_000_000)
    assert EntityStateCoder().decode(EntityStateCoder().encode(state)) == state
    merged = EntityState("fp-merged", {"a": "01"}, None, 5)
    shard = {"k1": state, "k2": merged}
    assert ShardedEntityStateCoder().decode(ShardedEntityStateCoder().encode(shard)) == shard
    seen = {"f1": 1, "f2": 2}
    assert ShardedSeenCoder().decode(ShardedSeenCoder().encode(seen)) == seen


def test_frames_use_the_frame_coder_not_pickle():
    registry = beam.coders.registry
    assert isinstance(registry.get_coder(Frame), FrameCoder)
    pair = registry.get_coder(beam.typehints.Tuple[str, Frame])
    assert isinstance(pair, beam.coders.TupleCoder)
    assert [type(c) for c in pair.coders()] == [beam.coders.StrUtf8Coder, FrameCoder]
