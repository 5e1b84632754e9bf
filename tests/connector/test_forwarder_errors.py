"""The forwarder's error handling with test publishers (no emulator): split, reject, evict."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest
from google.api_core import exceptions

from connector.deadletters import DeadLetterRecord, dead_letter_line, read_dead_letters
from connector.forwarder import Forwarder, Frame
from contract.ingress import new_id

from .conftest import wait_until
from .fakes import Messages, RecordingPublisher, StalledPublisher


def frames(n: int, bad: AbstractSet[int] = frozenset()) -> list[Frame]:
    return [
        Frame(b"bad" if i in bad else f"ok-{i}".encode(), {"frame_id": new_id(), "n": str(i)})
        for i in range(n)
    ]


def refuse_bad(messages: Messages) -> Exception | None:
    if any(data == b"bad" for data, _ in messages):
        return exceptions.InvalidArgument("Some messages are invalid (test)")
    return None


def test_a_permanently_refused_frame_is_split_out_and_recorded_the_rest_flows(
    tmp_path: Path,
) -> None:
    record = tmp_path / "dl" / "dead-letters.jsonl"
    publisher = RecordingPublisher(refuse_bad)
    forwarder = Forwarder(publisher, workers=1, dead_letter_path=str(record))
    batch = frames(200, bad={37, 150})
    for f in batch:  # offered before the publisher thread wakes: one batch of 200
        assert forwarder.offer(f)
    assert forwarder.flush(10)
    stats = forwarder.snapshot()
    assert stats.published == 198 and stats.dead_lettered == 2 and stats.buffered == 0
    good = {f.attributes["frame_id"] for i, f in enumerate(batch) if i not in (37, 150)}
    assert {a["frame_id"] for _, a in publisher.published} == good
    recorded = read_dead_letters(record)
    assert sorted(r["attributes"]["n"] for r in recorded) == ["150", "37"]
    assert all(r["data"] == b"bad" and "InvalidArgument" in r["error"] for r in recorded)
    assert publisher.calls <= 1 + 2 * 2 * 8  # a binary search per offender, not 200 requests
    forwarder.close(1)


def test_a_missing_topic_rejects_the_whole_batch_at_once(tmp_path: Path) -> None:
    record = tmp_path / "dead-letters.jsonl"
    publisher = RecordingPublisher(lambda m: exceptions.NotFound("Topic not found"))
    forwarder = Forwarder(publisher, workers=1, dead_letter_path=str(record))
    batch = frames(50)
    for f in batch:
        assert forwarder.offer(f)
    assert forwarder.flush(10)
    assert forwarder.snapshot().dead_lettered == 50 and forwarder.snapshot().published == 0
    assert [r["frame_id"] for r in read_dead_letters(record)] == [
        f.attributes["frame_id"] for f in batch
    ]
    assert publisher.calls <= 2  # no split: it cannot help
    forwarder.close(1)


def test_transient_errors_are_retried_with_the_same_frames(tmp_path: Path) -> None:
    failures = iter([exceptions.ServiceUnavailable("x"), exceptions.DeadlineExceeded("y")])
    publisher = RecordingPublisher(lambda m: next(failures, None))
    forwarder = Forwarder(
        publisher, workers=1, retry_base=0.01, dead_letter_path=str(tmp_path / "dl.jsonl")
    )
    batch = frames(10)
    for f in batch:
        assert forwarder.offer(f)
    assert forwarder.flush(10)
    stats = forwarder.snapshot()
    assert stats.published == 10 and stats.dead_lettered == 0 and stats.publish_failures == 20
    assert [a["frame_id"] for _, a in publisher.published] == [
        f.attributes["frame_id"] for f in batch
    ]
    assert not (tmp_path / "dl.jsonl").exists()
    forwarder.close(1)


def test_close_under_a_stalled_publisher_records_every_frame_and_returns(tmp_path: Path) -> None:
    record = tmp_path / "dead-letters.jsonl"
    publisher = StalledPublisher()
    forwarder = Forwarder(publisher, workers=2, max_batch=5, dead_letter_path=str(record))
    batch = frames(40)
    for f in batch:
        assert forwarder.offer(f)
    assert publisher.started.acquire(timeout=5)  # a request is in flight, hanging
    assert forwarder.close(0.3) is False  # returns although requests are still hanging
    recorded = read_dead_letters(record)
    assert sorted(r["frame_id"] for r in recorded) == sorted(
        f.attributes["frame_id"] for f in batch
    )  # queued and in-flight frames alike, each once
    assert {r["reason"] for r in recorded} == {"not published before shutdown"}
    stats = forwarder.snapshot()
    assert stats.buffered == 0 and stats.dead_lettered == 40
    publisher.release()  # the hung requests fail late: nothing is recorded or counted twice
    wait_until(lambda: forwarder.snapshot().publish_failures >= 5, 5, "late failures")
    assert len(read_dead_letters(record)) == 40 and forwarder.snapshot().buffered == 0


def test_dead_letter_line_keeps_any_bytes(tmp_path: Path) -> None:
    f = Frame(b"\xff\x00not utf-8", {"frame_id": "f1", "subscription": "onBetAccepted"})
    line = dead_letter_line(f, "why", "what")
    assert line["frame_id"] == "f1" and line["attributes"]["subscription"] == "onBetAccepted"
    path = tmp_path / "x.jsonl"
    assert DeadLetterRecord(str(path)).write([f], "why", "what") == 1
    [back] = read_dead_letters(path)
    assert back["data"] == f.data and back["reason"] == "why" and back["error"] == "what"


def test_an_unwritable_record_logs_the_frames_themselves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    record = DeadLetterRecord(str(blocker / "sub" / "dl.jsonl"))  # parent is a file
    f = Frame(b"payload", {"frame_id": "lost-1"})
    with caplog.at_level("CRITICAL"):
        assert record.write([f], "why", "what") == 0
    [entry] = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert entry.json_fields["frame_id"] == "lost-1"  # type: ignore[attr-defined]  # json_fields: set by the logging extra
    assert entry.json_fields["data_base64"] == "cGF5bG9hZA=="  # type: ignore[attr-defined]  # json_fields: set by the logging extra


def test_log_frames_puts_each_record_in_the_log_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from connector.deadletters import LOG_ENTRY_MAX_DATA

    record = DeadLetterRecord(str(tmp_path / "dl.jsonl"), log_frames=True)
    small = Frame(b"payload", {"frame_id": "small-1"})
    huge = Frame(b"x" * (LOG_ENTRY_MAX_DATA), {"frame_id": "huge-1"})
    with caplog.at_level("WARNING"):
        assert record.write([small, huge], "why", "what") == 2
    entries = {
        r.json_fields["dead_letter_frame"]["frame_id"]: r.json_fields["dead_letter_frame"]  # type: ignore[attr-defined]  # json_fields: set by the logging extra
        for r in caplog.records
        if "dead_letter_frame" in getattr(r, "json_fields", {})
    }
    in_file = read_dead_letters(tmp_path / "dl.jsonl")[0]
    in_file.pop("data")  # added by the reader
    assert entries["small-1"] == in_file and in_file["data_base64"] == "cGF5bG9hZA=="
    assert entries["huge-1"]["data_base64"] is None and entries["huge-1"]["data_omitted"]
    assert len(read_dead_letters(tmp_path / "dl.jsonl")) == 2  # the file has both in full
