"""Real web app instances (gunicorn subprocesses) and a small blocking SSE reader for tests."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.processes import ManagedProcess, free_port, wait_for_http
from webapp import sse

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # generous: loaded 2-core CI machines


@contextmanager
def webapp_server(logs: Path, name: str = "webapp", **env: str) -> Iterator[WebApp]:
    """One gunicorn web app instance on a free port; stopped (process group) at the end."""
    port = free_port()
    environment = dict(
        os.environ,
        PORT=str(port),
        WEBAPP_HOST="127.0.0.1",
        GCE_METADATA_HOST="127.0.0.9:1",
        GCE_METADATA_IP="127.0.0.9:1",
        SSE_MAX_STREAMS="64",
        **env,
    )
    process = ManagedProcess(
        name,
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-c",
            "webapp/gunicorn_conf.py",
            "webapp.app:create_app()",
        ],
        log_path=logs / f"{name}-{port}.log",
        env=environment,
        cwd=ROOT,
    ).start()
    app = WebApp(port, process)
    try:
        wait_for_http(
            app.url("/health"), timeout=WAIT, accept=lambda s, b: s == 200, alive=process.alive
        )
        yield app
    finally:
        process.stop()


class WebApp:
    def __init__(self, port: int, process: ManagedProcess) -> None:
        self.port = port
        self.process = process

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url("/status"), timeout=10) as resp:
            return json.load(resp)

    def status_with(self, token: str) -> dict[str, Any]:
        """``/status`` with a bearer token (when access control is on)."""
        request = urllib.request.Request(
            self.url("/status"), headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp)

    def stream(self, path: str = "/events", headers: dict[str, str] | None = None) -> SSEStream:
        return SSEStream(self.port, path, headers or {})


class SSEStream:
    """A blocking SSE client over ``http.client`` (it decodes the chunked transfer coding)."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
        self.connection.request("GET", path, headers=headers)
        self.response = self.connection.getresponse()
        self.parser = sse.Parser()
        self.received: list[sse.Message] = []

    @property
    def status(self) -> int:
        return self.response.status

    def read_until(self, count: int, timeout: float = WAIT) -> list[sse.Message]:
        """Read until ``count`` messages arrived in total (or the stream ends / time is up)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            data = self.response.read1(65536)
            if not data:
                break
            self.received.extend(self.parser.feed(data))
        return self.received

    def close(self) -> None:
        self.connection.close()


def poll(predicate, timeout: float = WAIT, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
