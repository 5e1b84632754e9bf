"""Reconnect delays: exponential backoff with full jitter and a cap, reset after stability.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads reconnecting clients
so a Tote restart is not met by a synchronised stampede; the cap bounds the outage a transient
fault can cause; resetting after a stable connection keeps one flap an hour from escalating.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delay before the next reconnect attempt.

    ``base`` is the ceiling of the first delay, doubled per consecutive failure up to ``cap``;
    ``stable`` is how long a connection must last to count as healthy (resets the sequence).
    ``draw`` returns a float in [0, 1) and is injectable so tests are deterministic.
    """

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 60.0,
        stable: float = 60.0,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.base = base
        self.cap = cap
        self.stable = stable
        self.attempt = 0
        self._draw = draw

    def ceiling(self) -> float:
        """Upper bound of the next delay."""
        return min(self.cap, self.base * (2 ** min(self.attempt, 62)))

    def next_delay(self) -> float:
        """The delay to wait now; each call counts as one more consecutive failure."""
        delay = self._draw() * self.ceiling()
        self.attempt += 1
        return delay

    def connection_ended(self, lasted: float) -> None:
        """Record how long the connection that just ended stayed up (resets when stable)."""
        if lasted >= self.stable:
            self.reset()

    def reset(self) -> None:
        self.attempt = 0
