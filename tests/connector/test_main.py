"""``python -m connector`` as the local system starts it: gunicorn, POST /start, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
    messages = ingress.pull(len(captured), timeout=60)
    assert {m.attributes["frame_id"] for m in messages} == {
        c["attributes"]["frame_id"] for c in captured
    }
    assert sorted(m.data for m in messages) == sorted(c["data"].encode() for c in captured)
    text = log.read_text()
    assert "connector shut down" in text
    assert API_KEY not in text and TOKEN not in text
    wait_until(lambda: sim.stats()["connections"] == 0, 10, "socket closed")
