"""The connector's receive clock: millisecond timestamps that strictly increase.

Why: ``received_at`` (and a query page's request start, its ``as_of``) is the only order
downstream knows.  The pipeline's ordering guard, BigQuery's ``latest_*`` views, the web app's
event ids and its ``/state`` all order one entity's states by it.  The contract's timestamps
have millisecond precision, and a connector that falls a little behind (a busy event loop, a
TCP read holding several frames) reads consecutive frames in the same millisecond.  Two states
of one entity with equal times were then ordered by their random frame ids: a race's ``FINAL``
result could be followed by its ``PROVISIONAL`` one on a dashboard.

So every stamp is at least one millisecond after the previous one in this process: a frame read
in the same millisecond as the one before it is stamped 1 ms later, in the order it was read.
The stamp leads the wall clock only while frames arrive faster than one per millisecond, by at
most the length of such a burst, and falls back onto the wall clock as soon as the rate drops;
``max_lead_ms`` reports the largest lead seen (``/status``).  A wall clock that steps back is
absorbed the same way: stamps never go backwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["RECEIVE_CLOCK", "ReceiveClock"]


class ReceiveClock:
    """Strictly increasing UTC datetimes with whole milliseconds; thread-safe."""

    def __init__(self, wall_ns: Callable[[], int] = time.time_ns) -> None:
        """``wall_ns``: the wall clock in nanoseconds since 1970 (tests pass their own)."""
        self._wall_ns = wall_ns
        self._lock = threading.Lock()
        self._last_ms = 0
        self._second = -1
        self._second_start = datetime.fromtimestamp(0, UTC)
        self.bumped = 0
        """Stamps moved past the wall clock to stay after the previous one."""
        self.max_lead_ms = 0
        """The largest lead of a stamp over the wall clock, in milliseconds."""

    def now(self) -> datetime:
        """The next stamp: the wall clock's millisecond, or 1 ms after the previous stamp."""
        wall_ms = self._wall_ns() // 1_000_000
        with self._lock:
            ms = wall_ms
            if ms <= self._last_ms:
                ms = self._last_ms + 1
                self.bumped += 1
                self.max_lead_ms = max(self.max_lead_ms, ms - wall_ms)
            self._last_ms = ms
            seconds, millis = divmod(ms, 1000)
            if seconds != self._second:  # a datetime per second, not per frame (3 µs each)
                self._second, self._second_start = seconds, datetime.fromtimestamp(seconds, UTC)
            start = self._second_start
        return start.replace(microsecond=millis * 1000)


RECEIVE_CLOCK = ReceiveClock()
"""The process's clock: frames, query pages and test messages share it, so their order holds."""
