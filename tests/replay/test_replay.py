"""The replay tool: capture parsing, pacing, progress, and a real replay into the emulator."""

from __future__ import annotations

import io
import json
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
    got = list(replay.read_capture(record.read_text().splitlines()))
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
    assert replay.delays(frames, speed=1) == [0.0, 2.0, 0.0, 4.0]
    assert replay.delays(frames, speed=4) == [0.0, 0.5, 0.0, 1.0]
    assert replay.delays(frames, speed=0) == [0.0] * 4


def test_new_frame_ids_keep_the_original_as_replay_of():
    frame = replay.parse_line(_line("orig", "2026-11-26T10:00:00.000Z"), 1)
    fresh = replay.with_new_frame_id(frame)
    assert fresh.attributes["replay_of"] == "orig"
    assert fresh.attributes["frame_id"] != "orig" and len(fresh.attributes["frame_id"]) == 32


def test_progress_bar():
    bar = replay.progress_bar(30, 100, 6.0, width=10)
    assert bar == "[###.......]  30/100  30%      5.0 frames/s"


def test_replay_names_failed_publishes_and_paces_with_sleep():
    frames = [
        replay.parse_line(_line("a", "2026-11-26T10:00:00.000Z"), 1),
        replay.parse_line(_line("b", "2026-11-26T10:00:03.000Z"), 2),
    ]
    slept: list[float] = []

    def publish(data, attrs):
        future: Future = Future()
        if attrs["frame_id"] == "b":
            future.set_exception(RuntimeError("topic gone"))
        else:
            future.set_result("1")
        return future

    out = io.StringIO()
    summary = replay.replay(frames, publish, speed=3, progress=out, sleep=slept.append)
    assert slept == [1.0]
    assert summary.published == 1 and not summary.ok
    assert summary.failed == ["line 2 (frame b): topic gone"]
    assert "2/2" in out.getvalue()


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
