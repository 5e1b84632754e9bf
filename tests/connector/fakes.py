"""Test doubles for the forwarder's publisher: failing, gated or stalled on purpose."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from google.api_core import exceptions

from connector.forwarder import BatchPublisher

Messages = Sequence[tuple[bytes, dict[str, str]]]


class GatedPublisher:
    """Raises ``UNAVAILABLE`` (retryable) until ``open()``, then delegates to ``inner``."""

    def __init__(self, inner: BatchPublisher) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.refusals = 0

    def open(self) -> None:
        self.gate.set()

    def publish_batch(self, messages: Messages) -> list[str]:
        if not self.gate.is_set():
            self.refusals += 1
            raise exceptions.ServiceUnavailable("Pub/Sub briefly unavailable (test)")
        return self.inner.publish_batch(messages)


class RecordingPublisher:
    """Accepts every batch unless ``refuse(messages)`` returns an exception to raise."""

    def __init__(self, refuse: Callable[[Messages], Exception | None] = lambda m: None) -> None:
        self.refuse = refuse
        self.calls = 0
        self.published: list[tuple[bytes, dict[str, str]]] = []
        self._lock = threading.Lock()

    def publish_batch(self, messages: Messages) -> list[str]:
        with self._lock:
            self.calls += 1
        error = self.refuse(messages)
        if error is not None:
            raise error
        with self._lock:
            self.published.extend(messages)
            return [str(len(self.published) - i) for i in range(len(messages))]


class StalledPublisher:
    """Every request hangs until ``release()`` (a Pub/Sub that accepts but never answers)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.started = threading.Semaphore(0)

    def release(self) -> None:
        self.released.set()

    def publish_batch(self, messages: Messages) -> list[str]:
        self.started.release()
        self.released.wait()
        raise exceptions.DeadlineExceeded("stalled (test)")
