"""Routing of a unique frame and of each semantic decision (plain functions under the steps)."""

from __future__ import annotations

from dataclasses import replace

from contract import catalog, ingress
from pipeline.core import process_frame
from pipeline.dedup import Decision, shard_of
from pipeline.records import ReferenceRecord
from pipeline.routing import (
    PART,
    is_carrier,
    reference_key,
    reference_outputs,
    route_frame,
    semantic_outputs,
    shard_elements,
)
from pipeline.transforms import table_for_row
from testsupport import examples


def _frame(data: bytes, frame_id: str = "f1"):
    _, attrs = examples.ingress_message(b"", frame_id=frame_id)
    return process_frame(data, attrs)


def _page():
    frame = _frame(examples.frame("PoolTotalChanged"), "page")
    other = replace(frame.events[0], key="PoolTotalChanged|p2", source=ingress.SOURCE_QUERY)
    frame.events = [frame.events[0], other]
    frame.reference = [ReferenceRecord("event", "E1", "events", "2026-11-26T14:00:00.000Z", {})]
    return frame


def test_a_query_page_is_written_raw_once_and_split_into_one_element_per_entity():
    frame = _page()
    out = route_frame(frame)
    assert [table_for_row(r) for r in out.rows] == [catalog.RAW_TABLE] and out.messages == []
    assert [(e.events, e.reference) for e in out.events] == [
        ([frame.events[0]], []),
        ([frame.events[1]], []),
        ([], frame.reference),
    ]
    assert all(e.frame_id == "page" and e.data == b"" for e in out.events)


def test_sharded_elements_group_a_page_by_shard_and_the_first_carries_the_frame():
    frame = _page()
    shards = 64
    elements = shard_elements(frame, shards)
    expected_shards = {shard_of(e.key, shards) for e in frame.events}
    expected_shards.add(shard_of(reference_key(frame.reference[0]), shards))
    assert [s for s, _ in elements] == list(dict.fromkeys(s for s, _ in elements))
    assert {s for s, _ in elements} == expected_shards
    carrier, *parts = [e for _, e in elements]
    assert is_carrier(carrier) and carrier.data == frame.data
    assert all(not is_carrier(p) and p.dedup_key == PART and p.data == b"" for p in parts)
    assert sorted(e.key for _, el in elements for e in el.events) == sorted(
        e.key for e in frame.events
    )
    assert [r for _, el in elements for r in el.reference] == frame.reference
    for shard, element in elements:
        assert all(shard_of(e.key, shards) == shard for e in element.events)


def test_a_subscription_frame_or_a_dead_letter_is_one_sharded_element_the_frame_itself():
    frame = _frame(examples.frame("ProductStatusChanged"))
    assert shard_elements(frame, 8) == [(shard_of(frame.events[0].key, 8), frame)]
    dead = _frame(b"{broken", "bad")
    assert shard_elements(dead, 8) == [(shard_of("bad", 8), dead)] and is_carrier(dead)


def test_each_reference_decision_yields_its_rows_and_messages():
    frame = _page()
    record = frame.reference[0]
    rows, messages = reference_outputs(frame, record, Decision.EMIT)
    assert [table_for_row(r) for r in rows] == [catalog.REFERENCE_TABLES["event"]]
    assert [m[0] for m in messages] == [catalog.REFERENCE_TOPIC]
    rows, messages = reference_outputs(frame, record, Decision.STALE)
    assert len(rows) == 1 and messages == []
    assert reference_outputs(frame, record, Decision.DUPLICATE) == ([], [])


def test_a_dead_letter_yields_its_row_and_message_and_no_events():
    out = route_frame(_frame(b"{broken", "bad"))
    assert [table_for_row(r) for r in out.rows] == [catalog.RAW_TABLE, catalog.DEAD_LETTER_TABLE]
    assert [m[0] for m in out.messages] == [catalog.DEAD_LETTER_TOPIC] and out.events == []


def test_each_decision_yields_its_rows_and_messages():
    frame = _frame(examples.frame("ProductStatusChanged"))
    event = frame.events[0]
    rows, messages = semantic_outputs(frame, event, Decision.EMIT)
    assert [table_for_row(r) for r in rows] == ["product_status_changed"]
    assert [m[0] for m in messages] == [event.spec.topic]
    rows, messages = semantic_outputs(frame, event, Decision.STALE)
    assert len(rows) == 1 and messages == []
    assert semantic_outputs(frame, event, Decision.DUPLICATE) == ([], [])
