"""The forwarder against the real Pub/Sub emulator: publish, capture, retry, refuse, flush,
dead-letter what the emulator refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.deadletters import read_dead_letters
from connector.forwarder import Forwarder, Frame, percentile
from connector.pubsub import IngressPublisher
from contract.ingress import new_id

from .conftest import Ingress, wait_until
from .fakes import GatedPublisher, RecordingPublisher

pytestmark = pytest.mark.emulator


def frame(i: int) -> Frame:
    return Frame(
        f'{{"id":"1","type":"next","n":{i}}}'.encode(), {"frame_id": new_id(), "n": str(i)}
    )


def test_publishes_every_frame_exactly_as_given_and_captures_it(
    ingress: Ingress, tmp_path: Path
) -> None:
    capture = tmp_path / "capture.jsonl"
    publisher = IngressPublisher(ingress.project, ingress.topic)
    forwarder = Forwarder(publisher, capacity=1000, capture_path=str(capture))
    frames = [frame(i) for i in range(300)]
    assert all(forwarder.offer(f) for f in frames)
    assert forwarder.flush(30)
    stats = forwarder.snapshot()
    assert (stats.published, stats.buffered, stats.refused) == (300, 0, 0)
    got = ingress.pull(300)
    assert sorted(m.data for m in got) == sorted(f.data for f in frames)
    by_id = {m.attributes["frame_id"]: m for m in got}
    for f in frames:
        assert dict(by_id[f.attributes["frame_id"]].attributes) == f.attributes
    lines = [json.loads(line) for line in capture.read_text().splitlines()]
    assert [(line["data"].encode(), line["attributes"]) for line in lines] == [
        (f.data, f.attributes) for f in frames
    ]
    assert len(forwarder.latencies) == 300 and percentile(list(forwarder.latencies), 99) > 0
    forwarder.close(5)
    publisher.close()


def test_transient_failures_are_retried_until_they_succeed(ingress: Ingress) -> None:
    publisher = GatedPublisher(IngressPublisher(ingress.project, ingress.topic))
    forwarder = Forwarder(publisher, capacity=100, retry_base=0.05, retry_cap=0.2)
    frames = [frame(i) for i in range(20)]
    for f in frames:
        assert forwarder.offer(f)
    wait_until(lambda: forwarder.snapshot().publish_failures >= 20, 30, "publish failures")
    assert forwarder.snapshot().published == 0 and forwarder.pending == 20
    publisher.open()
    assert forwarder.flush(60), forwarder.snapshot()
    got = ingress.pull(20, timeout=30)
    assert sorted(m.attributes["frame_id"] for m in got) == sorted(
        f.attributes["frame_id"] for f in frames
    )
    assert forwarder.snapshot().dead_lettered == 0
    forwarder.close(5)


def test_a_frame_the_emulator_refuses_is_recorded_and_the_others_arrive(
    ingress: Ingress, tmp_path: Path
) -> None:
    """Pub/Sub refuses a message without data or attributes (INVALID_ARGUMENT, whole request)."""
    record = tmp_path / "dead-letters.jsonl"
    publisher = IngressPublisher(ingress.project, ingress.topic)
    forwarder = Forwarder(publisher, workers=1, dead_letter_path=str(record))
    good = [frame(i) for i in range(60)]
    offender = Frame(b"", {})
    for f in [*good[:30], offender, *good[30:]]:
        assert forwarder.offer(f)
    assert forwarder.flush(30), forwarder.snapshot()
    stats = forwarder.snapshot()
    assert stats.published == 60 and stats.dead_lettered == 1 and stats.buffered == 0
    got = ingress.pull(60)
    assert sorted(m.attributes["frame_id"] for m in got) == sorted(
        f.attributes["frame_id"] for f in good
    )
    [recorded] = read_dead_letters(record)
    assert recorded["data"] == b"" and recorded["attributes"] == {}
    assert "InvalidArgument" in recorded["error"] and "empty" in recorded["error"]
    forwarder.close(5)
    publisher.close()


def test_full_buffer_refuses_and_counts(tmp_path: Path) -> None:
    publisher = GatedPublisher(RecordingPublisher())  # never opened: every publish fails
    forwarder = Forwarder(
        publisher, capacity=3, retry_base=5, retry_cap=5, dead_letter_path=str(tmp_path / "d")
    )
    assert all(forwarder.offer(frame(i)) for i in range(3))
    extra = frame(99)
    assert not forwarder.offer(extra)
    forwarder.refuse(extra, "buffer full")
    stats = forwarder.snapshot()
    assert stats.refused == 1 and stats.buffered == 3
    assert not forwarder.flush(0.2)
    assert not forwarder.close(0.2)  # records (and logs) what it could not publish
    assert len(read_dead_letters(tmp_path / "d")) == 3
    assert not forwarder.offer(frame(100))


def test_percentile() -> None:
    assert percentile([], 50) == 0.0
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
