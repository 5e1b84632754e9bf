"""The forwarder against the real Pub/Sub emulator: publish, capture, retry, refuse, flush."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.forwarder import Forwarder, Frame, percentile
from connector.pubsub import IngressPublisher
from contract.ingress import new_id
from devstack.provision import ensure_subscription, ensure_topics

from .conftest import Ingress, wait_until

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


def test_failed_publishes_are_retried_until_they_succeed(
    pubsub_emulator: object, project: str
) -> None:
    topic = f"late-{new_id()[:10]}"  # does not exist yet: every publish fails with NotFound
    publisher = IngressPublisher(project, topic)
    forwarder = Forwarder(publisher, capacity=100, retry_base=0.05, retry_cap=0.2)
    frames = [frame(i) for i in range(20)]
    for f in frames:
        assert forwarder.offer(f)
    wait_until(lambda: forwarder.snapshot().publish_failures >= 20, 30, "publish failures")
    assert forwarder.snapshot().published == 0 and forwarder.pending == 20
    ensure_topics(project, [topic])
    sub = ensure_subscription(project, topic, f"{topic}-sub")
    assert forwarder.flush(60), forwarder.snapshot()
    got = Ingress(project, topic, sub).pull(20, timeout=30)
    # the subscription was created after some retries: what matters is that all 20 were acked
    assert forwarder.snapshot().published == 20 and forwarder.snapshot().buffered == 0
    assert {m.attributes["frame_id"] for m in got} <= {f.attributes["frame_id"] for f in frames}
    forwarder.close(5)
    publisher.close()


def test_full_buffer_refuses_and_counts(pubsub_emulator: object, project: str) -> None:
    publisher = IngressPublisher(project, f"absent-{new_id()[:10]}")
    forwarder = Forwarder(publisher, capacity=3, retry_base=5, retry_cap=5)
    assert all(forwarder.offer(frame(i)) for i in range(3))
    extra = frame(99)
    assert not forwarder.offer(extra)
    forwarder.refuse(extra, "buffer full")
    stats = forwarder.snapshot()
    assert stats.refused == 1 and stats.buffered == 3
    assert not forwarder.flush(0.2)
    assert not forwarder.close(0.2)  # reports (and logs) what it could not publish
    assert not forwarder.offer(frame(100))
    publisher.close()


def test_percentile() -> None:
    assert percentile([], 50) == 0.0
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
