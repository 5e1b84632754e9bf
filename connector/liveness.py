"""When a socket counts as silent: a deadline derived from the keep-alive cadence, no I/O.

Tote sends a GraphQL keep-alive (``ka`` on graphql-ws, ``ping`` on graphql-transport-ws) about
every 5 s, and on graphql-transport-ws the connector also sends its own ``ping`` (the server must
answer ``pong``).  A healthy connection therefore never goes more than one keep-alive interval
without GraphQL traffic, whether or not races are running.  A fixed 30 s watchdog wasted up to
25 s of a silent outage; judging from the *observed* cadence detects silence within
``multiplier`` intervals (15 s with Tote's 5 s) while adapting to a server that keeps alive more
or less often.  WebSocket-level pings are deliberately not used: a server whose GraphQL layer went
quiet may still answer them.

``Liveness`` is fed arrival times (``time.monotonic()``) by the websocket shell and answers
``deadline()`` and ``silent_for(now)``; it is a plain object so every rule is unit-tested.
"""

from __future__ import annotations

import statistics
from collections import deque

__all__ = ["MIN_DEADLINE_SECONDS", "Liveness", "silence_deadline"]

MIN_DEADLINE_SECONDS = 1.0
"""Never declare a socket silent sooner than this, whatever the cadence (jitter, GC pauses)."""

_SAMPLES = 20
"""Keep-alive intervals remembered for the median (about 100 s at Tote's cadence)."""


def silence_deadline(
    server_interval: float | None,
    client_ping_interval: float | None,
    multiplier: float,
    cap: float,
) -> float:
    """Seconds without GraphQL traffic after which a socket is silent.

    The expected longest gap between two frames is the shorter of the server's keep-alive
    interval (``server_interval``, ``None`` until observed) and our own ping interval (a ``pong``
    answers each ping; ``None`` when we do not ping).  The deadline is ``multiplier`` of that
    gap, never above ``cap`` (also the deadline while no cadence is known) and never below
    ``MIN_DEADLINE_SECONDS`` (unless ``cap`` itself is lower).
    """
    known = [i for i in (server_interval, client_ping_interval) if i is not None and i > 0]
    if not known:
        return cap
    derived = multiplier * min(known)
    return min(cap, max(MIN_DEADLINE_SECONDS, derived))


class Liveness:
    """Traffic and keep-alive arrivals of one connection, and the silence deadline they imply."""

    def __init__(
        self,
        now: float,
        multiplier: float = 3.0,
        cap: float = 30.0,
        client_ping_interval: float | None = None,
    ) -> None:
        self.multiplier = multiplier
        self.cap = cap
        self.client_ping_interval = client_ping_interval
        self.last_traffic = now
        self._last_keepalive: float | None = None
        self._intervals: deque[float] = deque(maxlen=_SAMPLES)

    def traffic(self, now: float) -> None:
        """Any GraphQL frame arrived (data, error, complete, ``pong``...)."""
        self.last_traffic = max(self.last_traffic, now)

    def server_keepalive(self, now: float) -> None:
        """A server-initiated keep-alive (``ka`` or ``ping``) arrived: it also sets the cadence."""
        self.traffic(now)
        if self._last_keepalive is not None and now > self._last_keepalive:
            self._intervals.append(now - self._last_keepalive)
        self._last_keepalive = now

    @property
    def server_interval(self) -> float | None:
        """Median observed interval between server keep-alives (``None`` before two arrived)."""
        return statistics.median(self._intervals) if self._intervals else None

    def deadline(self) -> float:
        return silence_deadline(
            self.server_interval, self.client_ping_interval, self.multiplier, self.cap
        )

    def silent_for(self, now: float) -> float | None:
        """How long the socket has been silent when that exceeds the deadline, else ``None``."""
        idle = now - self.last_traffic
        return idle if idle >= self.deadline() else None
