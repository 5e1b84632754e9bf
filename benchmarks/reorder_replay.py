"""Replay recorded Pub/Sub arrivals through the bus under both reorder-hold rules.

Live runs on a shared machine differ from each other more than the two rules do, so
``bench_webapp --reorder-replay`` also records what its plain subscriber received (message,
publish time, arrival time) and replays those *identical* arrivals through a real
:class:`~webapp.bus.EventBus` on injected clocks, in 1 ms steps:

* ``arrival``: every message held ``SSE_REORDER_MS`` after its arrival (the rule before
  ``webapp/reorder.py``; the bus applies it to a message without a publish time);
* ``publish``: the bus's rule (publish time + fastest recent transit + delay, with the floor).

Reported per rule and delay: ``late`` and publish -> release p50/p99 (the hold's share of the
latency; the dispatcher's share comes after).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmarks.stats import percentile
from webapp.bus import EventBus
from webapp.events import Incoming

__all__ = ["Arrival", "ReplayResult", "compare", "replay"]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message as a subscriber saw it: parsed, with Pub/Sub's publish time, and when."""

    incoming: Incoming
    published_at: float
    arrived_at: float


@dataclass(frozen=True, slots=True)
class ReplayResult:
    rule: str
    delay_ms: int
    messages: int
    late: int
    p50_ms: float
    p99_ms: float


def replay(
    arrivals: Sequence[Arrival], rule: str, delay_ms: int, step: float = 0.001
) -> ReplayResult:
    """Feed ``arrivals`` to a fresh bus in arrival order, releasing every ``step`` seconds."""
    if rule not in ("arrival", "publish"):
        raise ValueError(f"unknown rule {rule!r}")
    clock = [0.0]
    released: list[float] = []
    published: dict[str, float] = {}

    def now() -> float:
        return clock[0]

    bus = EventBus(
        buffer_size=max(16, len(arrivals)),
        reorder_delay=delay_ms / 1000,
        clock=now,
        wall_clock=now,
        history_from_ms=0,
    )
    order = sorted(arrivals, key=lambda a: a.arrived_at)
    if not order:
        return ReplayResult(rule, delay_ms, 0, 0, float("nan"), float("nan"))

    def drain(at: float) -> None:
        clock[0] = at
        before = bus.bounds()[0]
        bus.release_due()
        head = bus.bounds()[0]
        for seq in range(before + 1, head + 1):
            event = bus._ring.get(seq)
            if event is not None:
                released.append(at - published[event.id])

    t = order[0].arrived_at
    i = 0
    while i < len(order) or bus.stats().pending:
        while i < len(order) and order[i].arrived_at <= t:
            a = order[i]
            drain(a.arrived_at)
            published[a.incoming.id] = a.published_at
            incoming = dataclasses.replace(
                a.incoming, published_at=a.published_at if rule == "publish" else None
            )
            before = bus.bounds()[0]
            bus.publish(incoming)
            if bus.bounds()[0] > before:  # released on arrival
                released.append(a.arrived_at - a.published_at)
            i += 1
        drain(t)
        t += step
    return ReplayResult(
        rule,
        delay_ms,
        len(order),
        bus.stats().late,
        percentile([r * 1000 for r in released], 50),
        percentile([r * 1000 for r in released], 99),
    )


def compare(
    arrivals: Sequence[Arrival], delays_ms: Iterable[int] = (50, 100, 150)
) -> list[ReplayResult]:
    """Both rules at each delay, on the same arrivals."""
    return [replay(arrivals, rule, delay) for delay in delays_ms for rule in ("arrival", "publish")]
