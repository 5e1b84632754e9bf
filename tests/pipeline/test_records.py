"""Dead letters and messages always fit: BigQuery's row checks and Pub/Sub's size limits."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from contract import catalog
from devstack.insert_validation import row_problems
from pipeline import records
from pipeline.records import DeadLetter

NOW = "2026-11-26T14:03:07.123Z"


def _row(data: bytes = b"x", **kwargs) -> dict[str, Any]:
    options = {
        "failed_at": NOW,
        "frame_id": "f1",
        "received_at": NOW,
        "message_type": None,
        **kwargs,
    }
    letter = options.pop("letter", DeadLetter("parse", "frame is not JSON"))
    attributes = options.pop("attributes", {"frame_id": "f1"})
    return records.dead_letter_row(data, attributes, letter, **options)


def _fits_pubsub(message: tuple[str, bytes, dict[str, str]]) -> None:
    _, data, attrs = message
    size = len(data) + sum(len(k.encode()) + len(v.encode()) for k, v in attrs.items())
    assert size <= records.PUBSUB_MAX_MESSAGE_BYTES
    assert len(attrs) <= records.MAX_ATTRIBUTES
    assert all(len(v.encode()) <= records.MAX_ATTRIBUTE_VALUE_BYTES for v in attrs.values())


@pytest.mark.parametrize("bad", ["2026-02-30T10:00:00.000Z", "٢٠٢٦-01-01T10:00:00.000Z", "x"])
def test_dead_letter_row_with_a_bad_received_at_is_still_valid(bad):
    """A rejected row's dead letter used to copy its bad ``received_at`` and be refused too."""
    row = _row(received_at=bad, failed_at=bad)
    assert row_problems(row, catalog.table_schema(catalog.DEAD_LETTER_TABLE)) == []
    assert row["received_at"] is None
    assert bad in row["reason"]


def test_a_huge_frame_keeps_a_prefix_its_size_and_sha256_and_fits():
    data = b"\x01" * (records.DEAD_LETTER_MAX_DATA_BYTES * 9)  # control chars: JSON-escaped 6x
    row = _row(data)
    assert row_problems(row, catalog.table_schema(catalog.DEAD_LETTER_TABLE)) == []
    kept = base64.b64decode(row["data_base64"])
    assert kept == data[: records.DEAD_LETTER_MAX_DATA_BYTES]
    assert f"of {len(data)} bytes" in row["reason"]
    assert hashlib.sha256(data).hexdigest() in row["reason"]
    message = records.dead_letter_message(row)
    assert len(records.dumps(row).encode()) < 10_000_000  # BigQuery's row limit
    _fits_pubsub(message)
    assert json.loads(message[1])["data_base64"] == row["data_base64"]


def test_a_frame_at_the_limit_is_kept_whole():
    data = b"\xff" * records.DEAD_LETTER_MAX_DATA_BYTES  # not UTF-8: 3 bytes of text per byte
    row = _row(data)
    assert base64.b64decode(row["data_base64"]) == data
    assert "truncated" not in row["reason"]
    _fits_pubsub(records.dead_letter_message(row))


def test_attribute_values_are_cut_at_1024_bytes_on_a_character_boundary():
    """The reason used to be cut at 1,000 *characters*: 1,000 x 'é' is 2,000 bytes."""
    for char in ("é", "€", "😀", "a"):
        row = _row(letter=DeadLetter("validate", char * 3000), frame_id=char * 1100)
        _, _, attrs = records.dead_letter_message(row)
        for value in (attrs["reason"], attrs["frame_id"]):
            encoded = value.encode()
            assert 1024 - 4 < len(encoded) <= 1024
            assert set(value) == {char}  # no broken character at the end


def test_reason_and_trace_are_bounded():
    row = _row(letter=DeadLetter("graphql_error", "e" * 50_000, "t" * 100_000))
    assert len(row["reason"]) <= records.MAX_REASON_CHARS
    assert "50000 characters" in row["reason"]
    assert len(row["stack_trace"]) <= records.MAX_TRACE_CHARS + 10


def test_cut_utf8():
    assert records.cut_utf8("abc", 2) == "ab"
    assert records.cut_utf8("é" * 3, 5) == "éé"
    assert records.cut_utf8("short", 1024) == "short"


def test_attribute_problem_and_bounded_attributes():
    assert records.attribute_problem({"frame_id": "f"}) is None
    assert "1024 bytes" in (records.attribute_problem({"k": "é" * 600}) or "")
    assert "more than Pub/Sub's 100" in (
        records.attribute_problem({str(i): "" for i in range(101)}) or ""
    )
    assert "key longer" in (records.attribute_problem({"k" * 257: ""}) or "")
    bounded = records.bounded_attributes(
        {"k" * 300: "v" * 2000, **{str(i): "" for i in range(150)}}
    )
    assert records.attribute_problem(bounded) is None
    assert len(bounded) == 100


def test_typed_and_reference_message_attributes_are_cut_to_1024_bytes():
    """Ids from a payload or a query page become attributes; Pub/Sub refuses > 1,024 bytes."""
    frame = records.Frame(
        data=b"{}",
        attributes={},
        frame_id="f1",
        received_at=NOW,
        dedup_key="k",
        ingested_at=NOW,
    )
    record = records.ReferenceRecord(
        "event", "é" * 2000, catalog.REFERENCE_TABLES["event"], NOW, {}, event_id="e" * 5000
    )
    _, _, attrs = records.reference_message(frame, record)
    assert len(attrs["entity_id"].encode()) <= 1024 and len(attrs["event_id"]) == 1024
    event = records.TypedEvent(
        "BetAccepted", "k", "fp", {"bet_id": "b" * 3000}, {}, "{}", as_of=NOW
    )
    frame.events = [event]
    _, _, attrs = records.typed_message(frame, event)
    assert attrs["bet_id"] == "b" * 1024
