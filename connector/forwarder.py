"""Frames from the receive loop to Pub/Sub: a bounded buffer, one publisher thread, retries.

The websocket receive loop must never wait on Pub/Sub, so it only *offers* a frame (O(1), never
blocks).  A single thread hands buffered frames to the batching publisher; completion callbacks
count acks and schedule a retry (exponential, capped) for every failed publish, keeping the frame
and its ``frame_id`` so the pipeline can deduplicate a retried frame.  A frame stays counted in
``buffered`` until Pub/Sub acknowledged it, so the bound covers everything in memory; when it is
reached ``offer`` says no and the caller applies backpressure (stops reading the socket) and, if
that does not help, counts the frame as refused and logs it: nothing disappears silently.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

__all__ = ["Forwarder", "ForwarderStats", "Frame", "Publisher", "percentile"]

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What the forwarder needs from Pub/Sub (see ``connector.pubsub.IngressPublisher``)."""

    def publish(self, data: bytes, attributes: dict[str, str]) -> Future: ...


@dataclass(slots=True)
class Frame:
    """One received frame on its way to Pub/Sub; ``received`` is ``time.monotonic()``."""

    data: bytes
    attributes: dict[str, str]
    received: float = field(default_factory=time.monotonic)
    attempts: int = 0


@dataclass(slots=True)
class ForwarderStats:
    offered: int = 0
    published: int = 0
    publish_failures: int = 0
    refused: int = 0
    buffered: int = 0
    retrying: int = 0


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (0.0 when empty)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


class Forwarder:
    """Buffers frames and publishes them through one shared publisher.

    ``capacity`` bounds frames held in memory (queued, in flight or waiting to retry).
    ``capture_path``, when set, gets every offered frame as one JSON line (the replay format).
    """

    def __init__(
        self,
        publisher: Publisher,
        capacity: int = 50_000,
        capture_path: str = "",
        retry_base: float = 0.2,
        retry_cap: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publisher = publisher
        self.capacity = capacity
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[Frame] = deque()
        self._retries: list[tuple[float, int, Frame]] = []
        self._seq = itertools.count()
        self._pending = 0
        self._closed = False
        self.stats = ForwarderStats()
        self.latencies: deque[float] = deque(maxlen=200_000)
        self._capture: IO[str] | None = None
        if capture_path:
            Path(capture_path).parent.mkdir(parents=True, exist_ok=True)
            self._capture = open(capture_path, "a", encoding="utf-8")  # noqa: SIM115
        self._thread = threading.Thread(target=self._run, name="ingress-publisher", daemon=True)
        self._thread.start()

    # -- called from the receive loop ---------------------------------------------------------

    def offer(self, frame: Frame) -> bool:
        """Buffer ``frame`` for publishing; ``False`` (nothing buffered) when full or closed."""
        with self._cond:
            if self._closed or self._pending >= self.capacity:
                return False
            self._pending += 1
            self.stats.offered += 1
            self._queue.append(frame)
            if len(self._queue) == 1:
                self._cond.notify()
            return True

    def refuse(self, frame: Frame, reason: str) -> None:
        """Count and log a frame the caller gave up buffering (never silent)."""
        with self._cond:
            self.stats.refused += 1
        log.error(
            "frame refused: %s",
            reason,
            extra={
                "json_fields": {
                    "frame_id": frame.attributes.get("frame_id"),
                    "subscription": frame.attributes.get("subscription"),
                    "bytes": len(frame.data),
                }
            },
        )

    @property
    def pending(self) -> int:
        """Frames accepted but not yet acknowledged by Pub/Sub."""
        return self._pending

    def snapshot(self) -> ForwarderStats:
        with self._cond:
            return ForwarderStats(
                offered=self.stats.offered,
                published=self.stats.published,
                publish_failures=self.stats.publish_failures,
                refused=self.stats.refused,
                buffered=self._pending,
                retrying=len(self._retries),
            )

    # -- lifecycle ------------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until every accepted frame is acknowledged; ``False`` if ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float) -> bool:
        """Flush, then stop the thread; logs (with ids) whatever could not be published."""
        flushed = self.flush(timeout)
        with self._cond:
            self._closed = True
            leftovers = [*self._queue, *(f for _, _, f in self._retries)]
            self._cond.notify_all()
        self._thread.join(5)
        if not flushed:
            log.error(
                "shutdown: %d frame(s) not acknowledged by Pub/Sub within %.0fs",
                self._pending,
                timeout,
                extra={
                    "json_fields": {"frame_ids": [f.attributes.get("frame_id") for f in leftovers]}
                },
            )
        if self._capture is not None:
            self._capture.close()
            self._capture = None
        return flushed

    # -- publisher thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._queue and not self._due_retry():
                    wait = self._retries[0][0] - self._clock() if self._retries else None
                    self._cond.wait(wait if wait is None else max(wait, 0.001))
                if self._closed:
                    return
                batch = list(self._queue)
                self._queue.clear()
                now = self._clock()
                while self._retries and self._retries[0][0] <= now:
                    batch.append(heapq.heappop(self._retries)[2])
            self._publish(batch)

    def _due_retry(self) -> bool:
        return bool(self._retries) and self._retries[0][0] <= self._clock()

    def _publish(self, batch: list[Frame]) -> None:
        if self._capture is not None:
            lines = [
                json.dumps({"data": f.data.decode("utf-8", "replace"), "attributes": f.attributes})
                for f in batch
                if f.attempts == 0
            ]
            if lines:
                self._capture.write("\n".join(lines) + "\n")
                self._capture.flush()
        for frame in batch:
            frame.attempts += 1
            try:
                future = self._publisher.publish(frame.data, frame.attributes)
            except Exception as exc:  # the client refused synchronously: same as a failed future
                self._failed(frame, exc)
                continue
            future.add_done_callback(lambda fut, fr=frame: self._done(fr, fut))

    def _done(self, frame: Frame, future: Future) -> None:
        exc = future.exception()
        if exc is not None:
            self._failed(frame, exc)
            return
        latency = self._clock() - frame.received
        with self._cond:
            self._pending -= 1
            self.stats.published += 1
            self.latencies.append(latency)
            if not self._pending:
                self._cond.notify_all()

    def _failed(self, frame: Frame, exc: BaseException) -> None:
        delay = min(self._retry_cap, self._retry_base * 2 ** min(frame.attempts - 1, 20))
        with self._cond:
            self.stats.publish_failures += 1
            heapq.heappush(self._retries, (self._clock() + delay, next(self._seq), frame))
            self._cond.notify_all()
        log.warning(
            "publish failed, retrying in %.1fs: %s",
            delay,
            type(exc).__name__,
            extra={
                "json_fields": {
                    "frame_id": frame.attributes.get("frame_id"),
                    "attempt": frame.attempts,
                    "error": str(exc)[:300],
                }
            },
        )
