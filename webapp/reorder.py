"""How long the bus holds a message before releasing it in id order: the reorder decision.

Why hold at all: event ids come from the data (``webapp/events.py``) and every instance must
release them in the same id order, or a ``Last-Event-ID`` resume on another instance could
repeat or miss events; Pub/Sub delivers out of order.  Holding every message a fixed
``SSE_REORDER_MS`` after its *arrival* (the original rule) adds that whole delay to every
message, even to one that already spent most of it in transit.

The rule here: a message is held until ``SSE_REORDER_MS`` after it *would* have arrived had it
travelled as fast as the fastest recent message, i.e. until

    published_at + baseline + delay,   clamped to  [arrival + delay/4, arrival + delay]

where ``published_at`` is Pub/Sub's publish time and ``baseline`` the smallest recent
``arrival - published_at`` (:class:`TransitBaseline`).  Measuring transit *relative to that
minimum* makes the rule immune to a constant clock offset between Pub/Sub and this instance
(skew, even one that makes transits negative), and the clamp bounds the damage of a sudden
clock step: never longer than the old rule, never shorter than the floor (a forward step of
this instance's clock makes every message look slow, so holds shrink to the floor until the
pre-step transits have left the window; a backward step only lowers the baseline).  A message that spent 80 ms more than the fastest
in transit waits only ``delay - 80 ms`` (but see the floor).

The floor (``delay / 4``, :data:`MIN_HOLD_SHARE`) is for bursts: after a stall (Pub/Sub, or this
process busy) a batch of messages arrives at once, every one of them older than the delay, in
any order; without a floor each would be released on arrival and most counted ``late``.
Measured on recorded emulator traces (``docs/webapp.md``, "Benchmark"): without it the rule
counted up to 6 late of 2,300 where the old rule counted 0; with a 20-25 ms floor, 0 again.

The guarantee, exactly: message X is released no earlier than ``published_at(X) + baseline +
delay``, so a message Y with a smaller id is released before X whenever Y arrives before that;
in particular, when Y was published before X, whenever Y's own transit is at most ``baseline +
delay`` ("delivered within ``SSE_REORDER_MS`` of the fastest delivery"); and, whatever the
transits, whenever Y arrives no more than ``delay / 4`` after X.  A message that misses both is
released as soon as it is next in line and counted ``late``, as before.  Without a publish time, or before
the baseline has enough samples (warm-up), the full delay applies (the old rule).
"""

from __future__ import annotations

from collections import deque

__all__ = ["MIN_HOLD_SHARE", "TransitBaseline", "hold_seconds"]

MIN_HOLD_SHARE = 0.25
"""Every message waits at least this share of the delay after its arrival (bursts)."""


def hold_seconds(
    delay: float,
    transit: float | None,
    baseline: float | None,
    min_share: float = MIN_HOLD_SHARE,
) -> float:
    """Seconds to hold a message that took ``transit`` s from publish to arrival.

    ``baseline`` is the fastest recent transit on the same clocks (``None`` while warming up);
    ``transit`` is ``None`` when the message has no publish time.  The result is in
    ``[delay * min_share, delay]``: ``delay`` minus how much slower than the baseline this
    message was.
    """
    if delay <= 0:
        return 0.0
    if transit is None or baseline is None:
        return delay
    excess = transit - baseline
    return min(delay, max(delay * min_share, delay - excess))


class TransitBaseline:
    """The minimum of the last ``size`` transits (arrival - publish time), in O(1) per sample.

    A sliding-window minimum (a monotonic deque), so the baseline follows slow clock drift
    and a change of path instead of remembering one lucky message forever.  It reports
    ``None`` until ``warmup`` samples have been seen: too few to trust for shortening holds.
    """

    def __init__(self, size: int = 1024, warmup: int = 16) -> None:
        if size < 1 or warmup < 1:
            raise ValueError("size and warmup must be at least 1")
        self.size = size
        self.warmup = warmup
        self._count = 0
        self._window: deque[tuple[int, float]] = deque()

    def add(self, transit: float) -> None:
        window = self._window
        while window and window[-1][1] >= transit:
            window.pop()
        window.append((self._count, transit))
        self._count += 1
        if window[0][0] <= self._count - 1 - self.size:
            window.popleft()

    @property
    def value(self) -> float | None:
        if self._count < self.warmup or not self._window:
            return None
        return self._window[0][1]
