"""The versioned coders of shuffled elements and keyed state: exact round trips, loud failures."""

from __future__ import annotations

from decimal import Decimal

import apache_beam as beam
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
        message={"total": {"grossAmounts": [{"decimalAmount": Decimal("1881.80")}]}},
        payload_json='{"x":1}',
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


def test_frame_decimals_come_back_as_decimals():
    frame = _frame(examples.frame("PoolTotalChanged"))
    decoded = FrameCoder().decode(FrameCoder().encode(frame))
    assert decoded.event is not None
    amount = decoded.event.message["total"]["grossAmounts"][0]["decimalAmount"]
    assert type(amount) is Decimal and amount == Decimal("6645.4")


def test_unknown_version_fails_loudly():
    encoded = FrameCoder().encode(_frame(examples.frame("PoolTotalChanged")))
    with pytest.raises(UnknownCoderVersion, match="Frame: unknown encoding version 2"):
        FrameCoder().decode(b"\x02" + encoded[1:])
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
