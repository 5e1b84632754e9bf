"""A Tote simulator as a test's subprocess, and polling: shared by every test package.

The simulator runs as the real ``python -m simulator`` command (its own process group, free
ports, stopped by the fixture in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.processes import ManagedProcess, free_port, wait_for_http

__all__ = ["API_KEY", "SimulatorProcess", "simulator_starter", "wait_until"]

API_KEY = "tote-key-3f9c2a77d1"


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class SimulatorProcess:
    port: int
    control_port: int
    record: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/partner/connections/graphql/"

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}{path}",
            method=method,
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def fault(self, path: str) -> dict[str, Any]:
        return self._call("POST", f"/faults/{path}")

    def recorded(
        self, kinds: tuple[str, ...] = ("data", "duplicate", "malformed")
    ) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        lines = [json.loads(line) for line in self.record.read_text().splitlines() if line]
        return [line for line in lines if line["kind"] in kinds]


def simulator_starter(tmp_path: Path) -> Iterator[Callable[..., SimulatorProcess]]:
    """Yields ``start(*args, api_key=...)``; stops every simulator it started afterwards."""
    started: list[SimulatorProcess] = []

    def start(*args: str, api_key: str | None = API_KEY) -> SimulatorProcess:
        port, control = free_port(), free_port()
        record = tmp_path / f"sent-{port}.jsonl"
        argv = [
            sys.executable, "-m", "simulator",
            "--port", str(port), "--control-port", str(control), "--record", str(record),
            *(["--api-key", api_key] if api_key else []),
            *args,
        ]  # fmt: skip
        proc = ManagedProcess(
            "simulator", argv, log_path=tmp_path / f"simulator-{port}.log"
        ).start()
        sim = SimulatorProcess(port, control, record, proc)
        started.append(sim)
        wait_for_http(f"http://127.0.0.1:{control}/health", timeout=30, alive=proc.alive)
        return sim

    yield start
    for sim in started:
        sim.process.stop()
