"""Frames from the receive loop to Pub/Sub: a bounded buffer, publisher threads, retries.

The websocket receive loop must never wait on Pub/Sub, so it only *offers* a frame (O(1), never
blocks).  Two publisher threads each take whatever is buffered (up to one Publish request's worth)
and publish it as one batch: while one request is in flight the next batch accumulates, so batches
grow with the load and latency stays at about one round trip.  A failed batch is retried after a
capped, jittered exponential delay with the same frames and ``frame_id``s (the pipeline
deduplicates a retried frame) when the error is transient; when Pub/Sub refuses the request for
good (``connector.publish_errors``) the batch is split down to the offending frame(s), which go to
the durable dead-letter record (``connector.deadletters``) while the rest flows.  A frame stays counted in ``buffered`` until Pub/Sub acknowledged it, so the bound
covers everything in memory; when it is reached ``offer`` says no and the caller applies
backpressure (stops reading the socket) and, if that does not help, counts the frame as refused
and logs it: nothing disappears silently.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from connector.deadletters import DeadLetterRecord
from connector.publish_errors import PublishErrorClass, classify_publish_error, retry_delay
from connector.pubsub import MAX_BATCH_BYTES, MAX_BATCH_MESSAGES

__all__ = ["BatchPublisher", "Forwarder", "ForwarderStats", "Frame", "percentile"]

log = logging.getLogger(__name__)


class BatchPublisher(Protocol):
    """What the forwarder needs from Pub/Sub (see ``connector.pubsub.IngressPublisher``)."""

    def publish_batch(self, messages: Sequence[tuple[bytes, dict[str, str]]]) -> list[str]: ...


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
    batches: int = 0
    dead_lettered: int = 0


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (0.0 when empty)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


class Forwarder:
    """Buffers frames and publishes them in batches through one shared publisher.

    ``capacity`` bounds frames held in memory (queued, in flight or waiting to retry).
    ``capture_path``, when set, gets every offered frame as one JSON line (the replay format).
    ``dead_letters`` records frames Pub/Sub refused for good or that a stop deadline left behind
    (default: a ``DeadLetterRecord`` at ``dead_letter_path``, each frame also logged when
    ``log_dead_letters``).
    ``max_batch`` caps the messages per Publish request.
    """

    def __init__(
        self,
        publisher: BatchPublisher,
        capacity: int = 50_000,
        capture_path: str = "",
        retry_base: float = 0.2,
        retry_cap: float = 10.0,
        workers: int = 2,
        max_batch: int = MAX_BATCH_MESSAGES,
        clock: Callable[[], float] = time.monotonic,
        dead_letter_path: str = "dead-letters.jsonl",
        dead_letters: DeadLetterRecord | None = None,
        log_dead_letters: bool = False,
    ) -> None:
        self._publisher = publisher
        self.capacity = capacity
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._max_batch = max(1, min(max_batch, MAX_BATCH_MESSAGES))
        self._clock = clock
        self.dead_letters = dead_letters or DeadLetterRecord(dead_letter_path, log_dead_letters)
        self._cond = threading.Condition()
        self._queue: deque[Frame] = deque()
        self._retries: list[tuple[float, int, list[Frame]]] = []
        self._inflight: dict[int, list[Frame]] = {}
        self._evicted: set[int] = set()
        self._seq = itertools.count()
        self._pending = 0
        self._closed = False
        self.stats = ForwarderStats()
        self.latencies: deque[float] = deque(maxlen=200_000)
        self._capture_lock = threading.Lock()
        self._capture: IO[str] | None = None
        if capture_path:
            Path(capture_path).parent.mkdir(parents=True, exist_ok=True)
            self._capture = open(capture_path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._threads = [
            threading.Thread(target=self._run, name=f"ingress-publisher-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

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
        """Frames accepted but not yet acknowledged by Pub/Sub (nor dead-lettered)."""
        return self._pending

    def snapshot(self) -> ForwarderStats:
        with self._cond:
            return ForwarderStats(
                offered=self.stats.offered,
                published=self.stats.published,
                publish_failures=self.stats.publish_failures,
                refused=self.stats.refused,
                buffered=self._pending,
                retrying=sum(len(batch) for _, _, batch in self._retries),
                batches=self.stats.batches,
                dead_lettered=self.stats.dead_lettered,
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

    def evict(self, reason: str) -> int:
        """Move every unacknowledged frame (queued, awaiting retry, in flight) to the record.

        For a deadline that passed (stop, SIGTERM): the frames are recorded durably and counted
        in ``dead_lettered``, so the buffer is empty afterwards.  A publish still in flight may
        yet succeed: the frame is then both in Pub/Sub and in the record (same ``frame_id``, which
        the pipeline deduplicates if the record is replayed).  Returns how many were evicted.
        """
        with self._cond:
            frames = [*self._queue, *(f for _, _, batch in self._retries for f in batch)]
            for batch_id, batch in self._inflight.items():
                if batch_id not in self._evicted:
                    self._evicted.add(batch_id)
                    frames.extend(batch)
            self._queue.clear()
            self._retries.clear()
            self._pending -= len(frames)
            self.stats.dead_lettered += len(frames)
            self._cond.notify_all()
        self.dead_letters.write(frames, reason, "not acknowledged by Pub/Sub in time")
        return len(frames)

    def close(self, timeout: float) -> bool:
        """Flush for up to ``timeout``, record what is left, stop the threads.

        Returns whether everything was acknowledged (``False``: the rest is in the dead-letter
        record and was logged with its ids).  Publisher threads blocked in a request are not
        waited for beyond a moment: they are daemons and their frames are already recorded.
        """
        deadline = time.monotonic() + timeout
        flushed = self.flush(timeout)
        if not flushed:
            evicted = self.evict("not published before shutdown")
            log.error(
                "shutdown: %d frame(s) not acknowledged by Pub/Sub within %.1fs, "
                "written to the dead-letter record %s",
                evicted,
                timeout,
                self.dead_letters.path,
                extra={"json_fields": {"unpublished": evicted}},
            )
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:  # idle threads end at once; one hung in a request is left
            thread.join(max(0.0, min(0.5, deadline - time.monotonic())))
        with self._capture_lock:
            if self._capture is not None:
                self._capture.close()
                self._capture = None
        return flushed

    # -- publisher threads ------------------------------------------------------------------------

    def _take(self) -> tuple[int, list[Frame]] | None:
        """The next batch (registered as in flight): a due retry first, else queued frames."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = self._clock()
                batch: list[Frame] = []
                if self._retries and self._retries[0][0] <= now:
                    batch = heapq.heappop(self._retries)[2]
                elif self._queue:
                    size = 0
                    while self._queue and len(batch) < self._max_batch:
                        size += len(self._queue[0].data)
                        if batch and size > MAX_BATCH_BYTES:
                            break
                        batch.append(self._queue.popleft())
                if batch:
                    batch_id = next(self._seq)
                    self._inflight[batch_id] = batch
                    return batch_id, batch
                wait = self._retries[0][0] - now if self._retries else None
                self._cond.wait(wait if wait is None else max(wait, 0.001))

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            batch_id, batch = taken
            self._capture_frames(batch)
            for frame in batch:
                frame.attempts += 1
            try:
                self._publisher.publish_batch([(f.data, f.attributes) for f in batch])
            except Exception as exc:  # noqa: BLE001 - classified: retry, split or dead-letter
                self._failed(batch_id, batch, exc)
                continue
            now = self._clock()
            with self._cond:
                self._inflight.pop(batch_id, None)
                self.stats.published += len(batch)
                self.stats.batches += 1
                self.latencies.extend(now - f.received for f in batch)
                if batch_id in self._evicted:  # already recorded and uncounted by ``evict``
                    self._evicted.discard(batch_id)
                    continue
                self._pending -= len(batch)
                if not self._pending:
                    self._cond.notify_all()

    def _capture_frames(self, batch: list[Frame]) -> None:
        if self._capture is None:
            return
        lines = [
            json.dumps({"data": f.data.decode("utf-8", "replace"), "attributes": f.attributes})
            for f in batch
            if f.attempts == 0
        ]
        if lines:
            with self._capture_lock:
                if self._capture is not None:
                    self._capture.write("\n".join(lines) + "\n")
                    self._capture.flush()

    def _failed(self, batch_id: int, batch: list[Frame], exc: BaseException) -> None:
        kind = classify_publish_error(exc)
        with self._cond:
            self.stats.publish_failures += len(batch)
            if batch_id in self._evicted:  # a stop deadline already recorded these frames
                self._evicted.discard(batch_id)
                self._inflight.pop(batch_id, None)
                return
            if kind is PublishErrorClass.SPLIT and len(batch) > 1:
                self._inflight.pop(batch_id, None)
                half = len(batch) // 2
                now = self._clock()  # both halves are due at once: the error was not transient
                heapq.heappush(self._retries, (now, next(self._seq), batch[:half]))
                heapq.heappush(self._retries, (now, next(self._seq), batch[half:]))
                self._cond.notify_all()
                return
            if kind is PublishErrorClass.RETRY:
                self._inflight.pop(batch_id, None)
                attempts = max(f.attempts for f in batch)
                delay = retry_delay(attempts, self._retry_base, self._retry_cap)
                heapq.heappush(self._retries, (self._clock() + delay, next(self._seq), batch))
                self._cond.notify_all()
        if kind is PublishErrorClass.RETRY:
            log.warning(
                "publish of %d frame(s) failed, retrying in %.1fs: %s",
                len(batch),
                delay,
                type(exc).__name__,
                extra={
                    "json_fields": {
                        "first_frame_id": batch[0].attributes.get("frame_id"),
                        "attempt": attempts,
                        "error": str(exc)[:300],
                    }
                },
            )
            return
        # a frame alone that Pub/Sub refuses, or a refusal of every frame: record durably
        # first (the batch stays "in flight" meanwhile, so it is counted as buffered), then
        # forget it
        self.dead_letters.write(
            batch, f"publish refused for good ({kind})", f"{type(exc).__name__}: {exc}"
        )
        with self._cond:
            self._inflight.pop(batch_id, None)
            if batch_id in self._evicted:  # a stop deadline recorded (and uncounted) it meanwhile
                self._evicted.discard(batch_id)
                return
            self._pending -= len(batch)
            self.stats.dead_lettered += len(batch)
            if not self._pending:
                self._cond.notify_all()
