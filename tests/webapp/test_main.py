"""``python -m webapp``: gunicorn with the app's config, graceful stop on SIGTERM (no Pub/Sub)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.processes import ManagedProcess, free_port, wait_for_http
from tests.webapp.servers import ROOT, WAIT, SSEStream, poll

pytestmark = pytest.mark.slow


def test_python_m_webapp_serves_and_stops_cleanly(logs_dir: Path) -> None:
    port = free_port()
    env = dict(
        os.environ,
        PORT=str(port),
        WEBAPP_HOST="127.0.0.1",
        WEBAPP_PUBSUB="false",
        SSE_MAX_STREAMS="8",
    )
    process = ManagedProcess(
        "webapp-main",
        [str(ROOT / ".venv/bin/python"), "-m", "webapp"],
        log_path=logs_dir / f"main-{port}.log",
        env=env,
        cwd=ROOT,
    ).start()
    try:
        wait_for_http(
            f"http://127.0.0.1:{port}/health",
            timeout=WAIT,
            accept=lambda s, b: s == 200,
            alive=process.alive,
        )
        stream = SSEStream(port, "/events", {})
        assert stream.status == 200
        process.signal(15)  # SIGTERM: the stream must end promptly, not after graceful_timeout
        stream.read_until(1, timeout=WAIT)
        assert stream.response.read1(1) == b""
        assert poll(lambda: not process.alive(), timeout=WAIT)
    finally:
        code = process.stop()
    assert code == 0, process.log_tail()
    assert "shutting down" in process.log_tail(50)
