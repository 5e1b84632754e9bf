"""Reading what the pipeline published, through synchronous pulls on the emulator."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from google.cloud import pubsub_v1

from contract import catalog
from devstack.provision import ensure_subscription


@dataclass
class Received:
    topic: str
    data: bytes
    attributes: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.data)


class TopicReader:
    """Pull subscriptions on every typed topic and the dead-letter topic."""

    def __init__(self, project: str, tag: str) -> None:
        self.subscriber = pubsub_v1.SubscriberClient()
        self.subs = {
            topic: ensure_subscription(project, topic, f"{tag}-{topic}")
            for topic in [t.name for t in catalog.TOPICS] + [catalog.DEAD_LETTER_TOPIC]
        }
        self.received: list[Received] = []

    def pull_once(self) -> int:
        got = 0
        for topic, sub in self.subs.items():
            resp = self.subscriber.pull(subscription=sub, max_messages=500, timeout=0.5)
            if resp.received_messages:
                self.subscriber.acknowledge(
                    subscription=sub, ack_ids=[m.ack_id for m in resp.received_messages]
                )
            for m in resp.received_messages:
                self.received.append(Received(topic, m.message.data, dict(m.message.attributes)))
                got += 1
        return got

    def collect(self, expected: int, timeout: float = 90.0, settle: float = 3.0) -> list[Received]:
        """Pull until ``expected`` messages arrived, then keep pulling ``settle`` seconds more so
        that extra (duplicate) messages would be seen too."""
        deadline = time.monotonic() + timeout
        while len(self.received) < expected and time.monotonic() < deadline:
            self.pull_once()
        settle_until = time.monotonic() + settle
        while time.monotonic() < settle_until:
            self.pull_once()
        return self.received

    def close(self) -> None:
        for sub in self.subs.values():
            self.subscriber.delete_subscription(subscription=sub)
        self.subscriber.close()
