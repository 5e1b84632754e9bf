"""Bytes waiting to be written to one SSE client: a bounded queue with no sockets in it.

The dispatcher pushes each tick's frames here and drains the queue into a non-blocking socket
through a ``send`` callable, so every decision (how much is pending, is the client stalled,
must it be dropped) is plain bookkeeping, unit-tested with a fake ``send``.  The bound is in
events, like the issue's "per-client bounded queue": a client more than ``limit`` events behind
is dropped rather than buffered without end.  HTTP/1.1 chunked transfer coding is applied here
because the dispatcher writes under gunicorn's response, which announced ``chunked``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["Outbox", "chunk"]


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (RFC 9112, section 7.1)."""
    return b"%X\r\n%s\r\n" % (len(data), data)


class Outbox:
    """Pending output of one client; ``push`` refuses (returns False) once over ``limit``."""

    def __init__(
        self, limit: int, chunked: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.chunked = chunked
        self._clock = clock
        # [memoryview of the bytes not yet sent, events]: a mutable pair (``flush`` trims the
        # view in place), which no list type can spell element by element.
        self._items: deque[list[Any]] = deque()
        self.pending_events = 0
        self.pending_bytes = 0
        self.stalled_since: float | None = None
        self.sent_events = 0
        self.last_write = clock()

    def __bool__(self) -> bool:
        return bool(self._items)

    def frame(self, data: bytes) -> bytes:
        return chunk(data) if self.chunked else data

    def push(self, data: bytes, events: int = 0) -> bool:
        """Queue ``data`` (carrying ``events`` events); False when the client is too far behind."""
        if self.pending_events + events > self.limit:
            return False
        wire = chunk(data) if self.chunked else data
        self._items.append([memoryview(wire), events])
        self.pending_events += events
        self.pending_bytes += len(wire)
        if self.stalled_since is None:
            self.stalled_since = self._clock()
        return True

    def send_or_queue(self, data: bytes, events: int, send: Callable[[bytes], int]) -> None:
        """Write ``data`` (unframed) now if nothing is pending, queue what the socket refuses.

        The dispatcher's fast path: a client that keeps up costs one ``send`` per tick and no
        queue bookkeeping.  Only call it with an empty outbox (ordering); ``OSError`` other
        than ``BlockingIOError`` propagates (client gone).
        """
        self.send_framed(chunk(data) if self.chunked else data, events, send)

    def send_framed(self, wire: bytes, events: int, send: Callable[[bytes], int]) -> None:
        """:meth:`send_or_queue` for bytes already framed for the wire (shared by many clients)."""
        if self._items:
            raise RuntimeError("send_framed needs an empty outbox (events would be reordered)")
        try:
            sent = send(wire)
        except BlockingIOError:
            sent = 0
        now = self._clock()
        if sent == len(wire):
            self.sent_events += events
            self.last_write = now
            return
        if sent:
            self.last_write = now
        self._items.append([memoryview(wire)[sent:], events])
        self.pending_events += events
        self.pending_bytes += len(wire) - sent
        self.stalled_since = now

    def flush(self, send: Callable[[memoryview], int]) -> int:
        """Write as much as ``send`` accepts; returns bytes written.

        ``send`` is a non-blocking socket's ``send``: it may write part of the buffer, and
        raises ``BlockingIOError`` when the socket buffer is full (other ``OSError`` means the
        client is gone and propagates).
        """
        written = 0
        while self._items:
            item = self._items[0]
            try:
                n = send(item[0])
            except BlockingIOError:
                break
            written += n
            self.pending_bytes -= n
            if n < len(item[0]):
                item[0] = item[0][n:]
                break
            self._items.popleft()
            self.pending_events -= item[1]
            self.sent_events += item[1]
        now = self._clock()
        if written:
            self.last_write = now
        self.stalled_since = (now if written else self.stalled_since) if self._items else None
        return written

    def stalled_for(self) -> float:
        """Seconds since pending output last made progress (0 when nothing is pending)."""
        return 0.0 if self.stalled_since is None else self._clock() - self.stalled_since
