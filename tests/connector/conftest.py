"""Fixtures for the connector tests: a fresh ingress topic (the simulator fixture is shared, in
``tests/conftest.py``).  Every test gets its own ingress topic and subscription on the
session's Pub/Sub emulator and drains it with synchronous pull (no streaming-pull reuse bug).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

__all__ = ["API_KEY", "SimulatorProcess", "wait_until"]
from google.cloud import pubsub_v1

from contract.ingress import new_id
from devstack.provision import ensure_subscription, ensure_topics
from testsupport.simulator_process import API_KEY, SimulatorProcess, wait_until


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

    def pull_frames(self, frame_ids: set[str], timeout: float = 60.0) -> list[Any]:
        """Pull and ack until a message of every id in ``frame_ids`` arrived (or ``timeout``).

        Counts distinct ``frame_id`` attributes, not messages: the emulator may redeliver a
        message whose ack was slow, and a count would then stop one frame short."""
        received: list[Any] = []
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while not frame_ids <= seen and time.monotonic() < deadline:
            batch = self.pull(1, timeout=max(0.1, deadline - time.monotonic()))
            received.extend(batch)
            seen.update(m.attributes.get("frame_id", "") for m in batch)
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
