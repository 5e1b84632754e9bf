"""Fixtures for the connector tests: a simulator subprocess and a fresh ingress topic.

The simulator runs as the real ``python -m connector.simulator`` command (its own process group,
free ports, stopped afterwards).  Every test gets its own ingress topic and subscription on the
session's Pub/Sub emulator and drains it with synchronous pull (no streaming-pull reuse bug).
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

import pytest
from google.cloud import pubsub_v1

from devstack.processes import ManagedProcess, free_port, wait_for_http
from devstack.provision import ensure_subscription, ensure_topics
from pipeline.ingress import new_id

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

    def recorded(self, kinds: tuple[str, ...] = ("data", "duplicate", "malformed")) -> list[dict]:
        if not self.record.exists():
            return []
        lines = [json.loads(line) for line in self.record.read_text().splitlines() if line]
        return [line for line in lines if line["kind"] in kinds]


@pytest.fixture
def start_simulator(tmp_path: Path) -> Iterator[Callable[..., SimulatorProcess]]:
    started: list[SimulatorProcess] = []

    def start(*args: str, api_key: str | None = API_KEY) -> SimulatorProcess:
        port, control = free_port(), free_port()
        record = tmp_path / f"sent-{port}.jsonl"
        argv = [
            sys.executable, "-m", "connector.simulator",
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


@dataclass
class Ingress:
    project: str
    topic: str
    subscription: str

    def pull(self, expected: int, timeout: float = 60.0) -> list[Any]:
        """Pull and ack until ``expected`` messages arrived (or ``timeout``); returns them."""
        subscriber = pubsub_v1.SubscriberClient()
        received: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while len(received) < expected and time.monotonic() < deadline:
                resp = subscriber.pull(subscription=self.subscription, max_messages=1000, timeout=3)
                if resp.received_messages:
                    received.extend(m.message for m in resp.received_messages)
                    subscriber.acknowledge(
                        subscription=self.subscription,
                        ack_ids=[m.ack_id for m in resp.received_messages],
                    )
        finally:
            subscriber.close()
        return received

    def drain(self, quiet: float = 2.0) -> list[Any]:
        """Pull everything that is there (until a pull of ``quiet`` seconds comes back empty)."""
        subscriber = pubsub_v1.SubscriberClient()
        received: list[Any] = []
        try:
            while True:
                resp = subscriber.pull(
                    subscription=self.subscription, max_messages=1000, timeout=quiet
                )
                if not resp.received_messages:
                    return received
                received.extend(m.message for m in resp.received_messages)
                subscriber.acknowledge(
                    subscription=self.subscription,
                    ack_ids=[m.ack_id for m in resp.received_messages],
                )
        except Exception as exc:  # DeadlineExceeded on an empty pull means: nothing left
            if "Deadline" in type(exc).__name__:
                return received
            raise
        finally:
            subscriber.close()


@pytest.fixture
def ingress(pubsub_emulator: Any, project: str) -> Ingress:
    """A fresh ingress topic with one subscription, unique to the test."""
    topic = f"ingress-{new_id()[:12]}"
    ensure_topics(project, [topic])
    path = ensure_subscription(project, topic, f"{topic}-sub")
    return Ingress(project, topic, path)
