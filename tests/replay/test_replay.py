"""The replay tool: capture parsing, pacing, progress, and a real replay into the emulator."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from concurrent.futures import Future

import pytest
from google.cloud import pubsub_v1

from contract import catalog
from devstack.provision import ensure_subscription, provision_pubsub
from replay import player as replay
from testsupport import examples


def _line(frame_id: str, received_at: str, data: str = '{"type":"ka"}') -> str:
    return json.dumps(
        {"data": data, "attributes": {"frame_id": frame_id, "received_at": received_at}}
    )


def _captured(lines: Iterable[str]) -> list[replay.CapturedFrame]:
    """Every line read as a frame; fails the test, showing the errors, if one is unreadable."""
    items = list(replay.read_capture(lines))
    frames = [i for i in items if isinstance(i, replay.CapturedFrame)]
    assert frames == items, items
    return frames


def test_read_capture_reports_bad_lines_and_keeps_reading():
    lines = [
        _line("a", "2026-11-26T10:00:00.000Z"),
        "not json",
        "",
        json.dumps({"data": 5}),
        json.dumps({"data": "x", "attributes": {"n": 1}}),
        _line("b", "2026-11-26T10:00:01.000Z"),
    ]
    items = list(replay.read_capture(lines))
    frames = [i for i in items if isinstance(i, replay.CapturedFrame)]
    errors = [str(i) for i in items if isinstance(i, replay.CaptureError)]
    assert [f.attributes["frame_id"] for f in frames] == ["a", "b"]
    assert [f.line for f in frames] == [1, 6]
    assert errors == [
        "line 2: not JSON (Expecting value)",
        "line 4: expected an object with a string 'data' or 'data_base64'",
        "line 5: 'attributes' must map strings to strings",
    ]


def test_dead_letter_record_lines_replay_byte_for_byte(tmp_path):
    from connector.deadletters import DeadLetterRecord
    from connector.forwarder import Frame

    frames = [
        Frame(
            b'{"type":"next","id":"1"}', {"frame_id": "f-1", "received_at": "2026-05-01T12:00:00Z"}
        ),
        Frame(b"\xff not utf-8", {"frame_id": "f-2"}),
    ]
    record = tmp_path / "dead-letters.jsonl"
    DeadLetterRecord(str(record)).write(frames, "test", "InvalidArgument: test")
    got = _captured(record.read_text().splitlines())
    assert [(g.data, g.attributes) for g in got] == [(f.data, f.attributes) for f in frames]
    [bad] = replay.read_capture(['{"data_base64": "***", "attributes": {}}'])
    assert isinstance(bad, replay.CaptureError) and "base64" in str(bad)


def test_delays_follow_received_at_scaled_by_speed_and_never_go_negative():
    frames = [
        replay.parse_line(_line("a", "2026-11-26T10:00:00.000Z"), 1),
        replay.parse_line(_line("b", "2026-11-26T10:00:02.000Z"), 2),
        replay.parse_line(_line("c", "2026-11-26T10:00:01.000Z"), 3),  # out of order
        replay.parse_line(_line("d", "2026-11-26T10:00:05.000Z"), 4),
    ]
    assert list(replay.delays(frames, speed=1)) == [0.0, 2.0, 0.0, 4.0]
    assert list(replay.delays(frames, speed=4)) == [0.0, 0.5, 0.0, 1.0]
    assert list(replay.delays(frames, speed=0)) == [0.0] * 4


def test_new_frame_ids_keep_the_original_as_replay_of():
    frame = replay.parse_line(_line("orig", "2026-11-26T10:00:00.000Z"), 1)
    fresh = replay.with_new_frame_id(frame)
    assert fresh.attributes["replay_of"] == "orig"
    assert fresh.attributes["frame_id"] != "orig" and len(fresh.attributes["frame_id"]) == 32


class Bar:
    def __init__(self) -> None:
        self.n = 0

    def update(self, n: float | None = 1) -> bool | None:
        self.n += int(n or 0)
        return None


def _done(value: str = "1") -> Future[str]:
    future: Future[str] = Future()
    future.set_result(value)
    return future


def test_replay_names_failed_publishes_and_unreadable_lines_and_paces_with_sleep():
    items: list[replay.CapturedFrame | replay.CaptureError] = [
        replay.parse_line(_line("a", "2026-11-26T10:00:00.000Z"), 1),
        replay.CaptureError("line 2: not JSON (Expecting value)"),
        replay.parse_line(_line("b", "2026-11-26T10:00:03.000Z"), 3),
    ]
    slept: list[float] = []

    def publish(data, attrs):
        if attrs["frame_id"] == "b":
            future: Future[str] = Future()
            future.set_exception(RuntimeError("topic gone"))
            return future
        return _done()

    bar = Bar()
    summary = replay.replay(items, publish, speed=3, progress=bar, sleep=slept.append)
    assert slept == [1.0]
    assert summary.total == 3 and summary.published == 1 and not summary.ok
    assert summary.failed == ["line 3 (frame b): topic gone"]
    assert summary.unreadable == ["line 2: not JSON (Expecting value)"]
    assert bar.n == 3


def test_replay_streams_its_input_and_bounds_what_is_in_flight():
    consumed = 0
    settled: list[int] = []

    class Tracked(Future[str]):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index
            self.set_result("ok")

        def result(self, timeout=None):
            settled.append(self.index)
            return super().result(timeout)

    def frames():
        nonlocal consumed
        for i in range(1, 51):
            consumed += 1
            yield replay.parse_line(_line(f"f{i}", "2026-11-26T10:00:00.000Z"), i)

    def publish(data, attrs):
        index = int(attrs["frame_id"][1:])
        assert consumed == index  # one line read per publish: nothing read ahead
        # frame i is published while at most 10 earlier ones are still awaited
        assert len([j for j in range(1, index) if j not in settled]) <= 10
        return Tracked(index)

    summary = replay.replay(frames(), publish, speed=0, max_in_flight=10)
    assert summary.published == 50 and summary.ok
    assert settled == list(range(1, 51))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_shows_count_rate_and_eta():
    out = FakeTerminal()
    with replay.progress_bar(4, quiet=False, file=out) as bar:
        bar.update(4)
    assert "4/4" in out.getvalue() and "frame" in out.getvalue()
    assert "<00:00" in out.getvalue()  # tqdm's elapsed<remaining (the ETA)


@pytest.mark.parametrize(
    ("stream", "quiet"), [(io.StringIO(), False), (FakeTerminal(), True)], ids=["pipe", "quiet"]
)
def test_progress_bar_is_off_when_piped_or_quiet(stream: io.StringIO, quiet: bool):
    with replay.progress_bar(4, quiet=quiet, file=stream) as bar:
        bar.update(4)
    assert stream.getvalue() == ""  # no carriage returns into logs


def test_count_lines_counts_non_blank_lines(tmp_path):
    capture = tmp_path / "c.jsonl"
    capture.write_text("a\n\n b\nc")
    assert replay.count_lines(capture) == 3


@pytest.mark.emulator
def test_replay_into_the_emulator_preserves_bytes_and_attributes(
    pubsub_emulator, project, tmp_path, capsys
):
    provision_pubsub(project)
    sub = ensure_subscription(project, catalog.INGRESS_TOPIC, "replay-test")
    frames = [
        examples.ingress_message(examples.frame("ProductStatusChanged"), frame_id=f"r{i}")
        for i in range(5)
    ]
    capture = tmp_path / "capture.jsonl"
    capture.write_text(
        "\n".join(json.dumps({"data": d.decode(), "attributes": a}) for d, a in frames)
        + "\n{broken\n"
    )
    code = replay.main([str(capture), "--project", project, "--speed", "0", "--quiet"])
    assert code == 1  # the broken line is reported and fails the run ...
    assert "replayed 5/6 frames" in capsys.readouterr().out  # ... but every good frame went out

    subscriber = pubsub_v1.SubscriberClient()
    got = {}
    for _ in range(20):
        resp = subscriber.pull(subscription=sub, max_messages=100, timeout=2)
        for m in resp.received_messages:
            got[m.message.attributes["frame_id"]] = (m.message.data, dict(m.message.attributes))
        if resp.received_messages:
            subscriber.acknowledge(
                subscription=sub, ack_ids=[m.ack_id for m in resp.received_messages]
            )
        if len(got) == 5:
            break
    assert got == {a["frame_id"]: (d, a) for d, a in frames}


def test_query_pages_are_captured_with_their_attributes_and_replayed_alike(tmp_path):
    """The connector's forwarder writes sweep pages to the capture like frames; replay reads
    them back byte for byte with every query-page attribute and can select them by source."""
    from datetime import UTC, datetime

    from connector.forwarder import Forwarder, Frame
    from contract import ingress

    class Publisher:
        def publish_batch(self, messages):
            return [str(i) for i, _ in enumerate(messages)]

    capture = tmp_path / "capture.jsonl"
    now = datetime(2026, 11, 30, 14, 0, 1, 250_000, tzinfo=UTC)
    page = b'{"data":{"products":{"pageInfo":{"hasNextPage":false,"endCursor":"YQ=="},"nodes":[]}}}'
    page_attrs = ingress.query_page_attributes(
        frame_id="f-page", received_at=now, connection_id="inst", operation="products",
        sweep_id="s1", page=1, request_started_at=now, request_id="r1",
    )  # fmt: skip
    frame_attrs = ingress.ingress_attributes(
        frame_id="f-ws", received_at=now, connection_id="c1", protocol="graphql-ws"
    )
    forwarder = Forwarder(Publisher(), capture_path=str(capture), workers=1)
    forwarder.offer(Frame(b'{"type":"ka"}', frame_attrs))
    forwarder.offer(Frame(page, page_attrs))
    assert forwarder.close(10)

    frames = _captured(capture.read_text().splitlines())
    assert [f.source for f in frames] == ["subscription", "query"]
    query = list(replay.select_source(frames, "query"))
    assert [(f.data, f.attributes) for f in query] == [(page, page_attrs)]
    assert list(replay.select_source(frames, "all")) == frames
    bad = replay.CaptureError("line 9: not JSON")
    mixed: list[replay.CapturedFrame | replay.CaptureError] = [bad, *frames]
    assert list(replay.select_source(mixed, "subscription")) == [bad, frames[0]]

    published: list[tuple[bytes, dict[str, str]]] = []

    def publish(data, attrs):
        published.append((data, attrs))
        future: Future[str] = Future()
        future.set_result("id")
        return future

    summary = replay.replay(frames, publish, speed=0)
    assert published == [(f.data, f.attributes) for f in frames]
    assert summary.by_source == {"subscription": 1, "query": 1}
    assert "query 1, subscription 1" in summary.render()
