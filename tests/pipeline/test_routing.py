"""Routing of a unique frame and of each semantic decision (plain functions under the steps)."""

from __future__ import annotations

from dataclasses import replace

from contract import catalog, ingress
from pipeline.core import process_frame
from pipeline.dedup import Decision
from pipeline.records import ReferenceRecord
from pipeline.routing import route_frame, semantic_outputs
from pipeline.transforms import table_for_row
from testsupport import examples


def _frame(data: bytes, frame_id: str = "f1"):
    _, attrs = examples.ingress_message(b"", frame_id=frame_id)
    return process_frame(data, attrs)


def test_a_query_page_is_written_raw_once_and_split_into_one_element_per_event():
    frame = _frame(examples.frame("PoolTotalChanged"), "page")
    other = replace(frame.events[0], key="PoolTotalChanged|p2", source=ingress.SOURCE_QUERY)
    frame.events = [frame.events[0], other]
    frame.reference = [ReferenceRecord("event", "E1", "events", "2026-11-26T14:00:00.000Z", {})]
    out = route_frame(frame)
    assert [table_for_row(r) for r in out.rows] == [
        catalog.RAW_TABLE,
        catalog.REFERENCE_TABLES["event"],
    ]
    assert [m[0] for m in out.messages] == [catalog.REFERENCE_TOPIC]
    assert [e.events for e in out.events] == [[frame.events[0]], [other]]
    assert all(e.frame_id == "page" and e.data == b"" and not e.reference for e in out.events)


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
