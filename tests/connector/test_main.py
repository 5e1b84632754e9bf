"""``python -m connector`` as the local system starts it: gunicorn, POST /start, SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.deadletters import read_dead_letters
from devstack.processes import ManagedProcess, free_port, wait_for_http

from .conftest import API_KEY, Ingress, SimulatorProcess, wait_until

pytestmark = pytest.mark.emulator

TOKEN = "subprocess-control-token"


def http(method: str, url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sigterm_closes_the_socket_and_flushes_every_received_frame(
    start_simulator: Callable[..., SimulatorProcess], ingress: Ingress, tmp_path: Path
) -> None:
    sim = start_simulator("--rate", "3000")
    port = free_port()
    capture = tmp_path / "capture.jsonl"
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "TOTE_SUBSCRIPTIONS_URL": sim.url,
        "TOTE_API_KEY": API_KEY,
        "GOOGLE_CLOUD_PROJECT": ingress.project,
        "INGRESS_TOPIC": ingress.topic,
        "CONTROL_TOKEN": TOKEN,
        "CAPTURE_PATH": str(capture),
        "DEAD_LETTER_PATH": str(tmp_path / "dead-letters.jsonl"),
        "LOG_LEVEL": "DEBUG",
    }
    log = tmp_path / "connector.log"
    proc = ManagedProcess("connector", [sys.executable, "-m", "connector"], log_path=log, env=env)
    proc.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", timeout=60, alive=proc.alive)
        assert http("POST", f"{base}/start")[0] == 401
        status, body = http("POST", f"{base}/start", TOKEN)
        assert status == 200 and body["started"] is True
        wait_until(
            lambda: http("GET", f"{base}/status")[1]["frames_received_total"] >= 2000,
            60,
            "frames flowing",
        )
        proc.signal(signal.SIGTERM)
        assert proc.proc is not None
        assert proc.proc.wait(60) == 0
    finally:
        proc.stop()
    captured = [json.loads(line) for line in capture.read_text().splitlines()]
    assert len(captured) >= 2000
    expected = {c["attributes"]["frame_id"] for c in captured}
    # One message per frame id (the emulator may redeliver one whose ack was slow).
    by_id = {m.attributes["frame_id"]: m for m in ingress.pull_frames(expected, timeout=60)}
    missing = expected - set(by_id)
    recorded = tmp_path / "dead-letters.jsonl"
    assert not missing, (
        f"{len(missing)} frame(s) not published; dead-letter record: "
        f"{recorded.read_text()[:2000] if recorded.exists() else 'none'}"
    )
    assert sorted(m.data for m in by_id.values()) == sorted(c["data"].encode() for c in captured)
    text = log.read_text()
    assert "connector shut down" in text
    assert API_KEY not in text and TOKEN not in text
    wait_until(lambda: sim.stats()["connections"] == 0, 10, "socket closed")


class Blackhole:
    """A TCP port that accepts connections and never answers: a stalled Pub/Sub."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.conns.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.mark.parametrize("pubsub", ["stalled", "unreachable"])
@pytest.mark.parametrize("how", ["SIGTERM", "POST /stop"])
def test_stop_ends_within_its_deadline_and_records_what_pubsub_did_not_take(
    start_simulator: Callable[..., SimulatorProcess], tmp_path: Path, pubsub: str, how: str
) -> None:
    sim = start_simulator("--rate", "500")
    blackhole = Blackhole() if pubsub == "stalled" else None
    pubsub_port = blackhole.port if blackhole else free_port()  # nothing listens on a free port
    port = free_port()
    record = tmp_path / "dead-letters.jsonl"
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "TOTE_SUBSCRIPTIONS_URL": sim.url,
        "TOTE_API_KEY": API_KEY,
        "GOOGLE_CLOUD_PROJECT": "tote-test",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{pubsub_port}",
        "CONTROL_TOKEN": TOKEN,
        "DEAD_LETTER_PATH": str(record),
        "AUTOSTART": "true",
        "AUTOSTART_WINDOW": "00:00-24:00",
    }
    log = tmp_path / "connector.log"
    proc = ManagedProcess("connector", [sys.executable, "-m", "connector"], log_path=log, env=env)
    proc.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", timeout=60, alive=proc.alive)
        received = wait_until(
            lambda: (
                http("GET", f"{base}/status")[1]["frames_received_total"] >= 300
                and http("GET", f"{base}/status")[1]["frames_received_total"]
            ),
            60,
            "frames flowing",
        )
        assert http("GET", f"{base}/status")[1]["published"] == 0  # Pub/Sub takes nothing
        started = time.monotonic()
        if how == "SIGTERM":
            proc.signal(signal.SIGTERM)
            assert proc.proc is not None
            assert proc.proc.wait(30) == 0
        else:
            status, body = http("POST", f"{base}/stop", TOKEN)
            assert status == 200 and body["stopped"] is True and body["buffered"] == 0
        took = time.monotonic() - started
        counted = None if how == "SIGTERM" else http("GET", f"{base}/status")[1]["dead_lettered"]
    finally:
        proc.stop()
        if blackhole:
            blackhole.close()
    print(f"{how} with Pub/Sub {pubsub}: done in {took:.2f}s")
    recorded = read_dead_letters(record)
    ids = [r["frame_id"] for r in recorded]
    assert len(ids) == len(set(ids)) >= received  # every frame received, each once
    if counted is not None:
        assert counted == len(ids)  # /status counts what the record holds
    sent = {line["frame"].encode() for line in sim.recorded()}
    assert all(r["data"] in sent for r in recorded)
    reasons = {r["reason"] for r in recorded}
    assert reasons <= {"not acknowledged by Pub/Sub before the stop deadline"}, reasons
    text = log.read_text()
    assert "written to the dead-letter record" in text
    if how == "SIGTERM":
        assert "connector shut down in" in text


def test_health_answers_while_clients_hold_half_sent_requests_and_idle_sockets(
    tmp_path: Path,
) -> None:
    """More half-sent requests than gunicorn used to have threads, plus idle connections."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "GOOGLE_CLOUD_PROJECT": "tote-test",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",  # not needed here
    }
    proc = ManagedProcess(
        "connector", [sys.executable, "-m", "connector"], log_path=tmp_path / "c.log", env=env
    )
    proc.start()
    held: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", timeout=60, alive=proc.alive)
        for i in range(48):
            sock = socket.create_connection(("127.0.0.1", port))
            if i % 3 == 0:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            elif i % 3 == 1:
                sock.sendall(b"POST /stop HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{")
            held.append(sock)  # i % 3 == 2: connected, silent
        for _ in range(3):
            status, body = http("GET", f"{base}/health")
            assert status == 200 and body["status"] == "ok"
        wait_until(
            lambda: "request stalled" in (tmp_path / "c.log").read_text(),
            30,
            "stalled reads closed",
        )
    finally:
        for sock in held:
            sock.close()
        proc.stop()
    text = (tmp_path / "c.log").read_text()
    assert "Socket error processing request" not in text  # no traceback per slow client


def test_autostart_inside_the_window_connects_every_subscription_without_a_post(
    start_simulator: Callable[..., SimulatorProcess], ingress: Ingress, tmp_path: Path
) -> None:
    sim = start_simulator("--rate", "50")
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "TOTE_SUBSCRIPTIONS_URL": sim.url,
        "TOTE_API_KEY": API_KEY,
        "GOOGLE_CLOUD_PROJECT": ingress.project,
        "INGRESS_TOPIC": ingress.topic,
        "AUTOSTART": "true",
        "AUTOSTART_WINDOW": "00:00-24:00",
        "AUTOSTART_TIME_ZONE": "Europe/London",
    }
    proc = ManagedProcess(
        "connector", [sys.executable, "-m", "connector"], log_path=tmp_path / "c.log", env=env
    )
    started = time.monotonic()
    proc.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", timeout=60, alive=proc.alive)

        def all_active() -> bool:
            subs = http("GET", f"{base}/status")[1]["subscriptions"]
            return len(subs) == sim.stats()["subscriptions"] > 0 and all(
                s["state"] == "active" for s in subs.values()
            )

        wait_until(all_active, 60, "every subscription active")
        print(f"process start to all subscriptions active: {time.monotonic() - started:.2f}s")
        assert sim.stats()["connections_total"] == 1
    finally:
        proc.stop()
