"""The reorder hold: the pure decision (webapp/reorder.py) and the bus that applies it."""

from __future__ import annotations

import pytest

from tests.webapp.messages import pool_total
from webapp.bus import EventBus
from webapp.events import Incoming, parse_message
from webapp.filters import EventFilter
from webapp.reorder import MIN_HOLD_SHARE, TransitBaseline, hold_seconds

DELAY = 0.1


# -- hold_seconds ------------------------------------------------------------------------------


def test_the_fastest_message_waits_the_whole_delay() -> None:
    assert hold_seconds(DELAY, transit=0.03, baseline=0.03) == DELAY


def test_a_slow_message_waits_only_what_is_left_of_the_delay() -> None:
    assert hold_seconds(DELAY, transit=0.09, baseline=0.03) == pytest.approx(0.04)


def test_a_message_slower_than_the_delay_waits_only_the_floor() -> None:
    assert hold_seconds(DELAY, transit=0.11, baseline=0.03) == pytest.approx(DELAY / 4)
    assert hold_seconds(DELAY, transit=5.0, baseline=0.03) == pytest.approx(DELAY / 4)
    assert hold_seconds(DELAY, transit=0.13, baseline=0.03, min_share=0.0) == 0.0


def test_a_constant_clock_skew_does_not_change_the_hold() -> None:
    for skew in (-3.0, -0.2, 0.0, 0.25, 7.0):  # this instance's clock minus Pub/Sub's
        assert hold_seconds(DELAY, 0.07 + skew, 0.02 + skew) == pytest.approx(0.05)


def test_negative_transits_from_a_clock_behind_pubsub_still_work() -> None:
    assert hold_seconds(DELAY, transit=-0.45, baseline=-0.5) == pytest.approx(0.05)
    assert hold_seconds(DELAY, transit=-0.5, baseline=-0.5) == DELAY


def test_a_hold_never_exceeds_the_delay_when_the_baseline_is_stale() -> None:
    # Faster than the recorded minimum (the clock stepped back, or the path got faster).
    assert hold_seconds(DELAY, transit=0.01, baseline=0.5) == DELAY


def test_without_a_publish_time_or_a_baseline_the_whole_delay_applies() -> None:
    assert hold_seconds(DELAY, transit=None, baseline=0.03) == DELAY
    assert hold_seconds(DELAY, transit=0.5, baseline=None) == DELAY  # warm-up


def test_no_delay_means_no_hold() -> None:
    assert hold_seconds(0.0, transit=0.0, baseline=0.0) == 0.0
    assert hold_seconds(0.0, transit=None, baseline=None) == 0.0


# -- TransitBaseline ---------------------------------------------------------------------------


def test_the_baseline_is_unknown_until_warmed_up() -> None:
    baseline = TransitBaseline(size=100, warmup=3)
    baseline.add(0.05)
    baseline.add(0.02)
    assert baseline.value is None
    baseline.add(0.04)
    assert baseline.value == 0.02


def test_the_baseline_is_the_minimum_of_the_last_size_transits() -> None:
    baseline = TransitBaseline(size=3, warmup=1)
    for transit in (0.01, 0.05, 0.04):
        baseline.add(transit)
    assert baseline.value == 0.01
    baseline.add(0.06)  # 0.01 leaves the window
    assert baseline.value == 0.04
    baseline.add(0.07)
    baseline.add(0.08)  # 0.04 leaves too
    assert baseline.value == 0.06


def test_a_replayed_backlog_gives_way_to_the_first_live_message() -> None:
    baseline = TransitBaseline(size=1000, warmup=2)
    for age in range(600, 0, -1):  # warm-up replay: messages minutes old
        baseline.add(float(age))
    assert baseline.value == 1.0
    baseline.add(0.03)
    assert baseline.value == 0.03


def test_a_forward_clock_step_shrinks_holds_to_the_floor_until_it_leaves_the_window() -> None:
    baseline = TransitBaseline(size=4, warmup=1)
    for _ in range(4):
        baseline.add(0.01)
    holds = []
    for _ in range(5):  # this instance's clock jumped 1 s ahead
        baseline.add(1.01)
        holds.append(hold_seconds(DELAY, 1.01, baseline.value))
    assert holds[:3] == [pytest.approx(DELAY / 4)] * 3
    assert holds[-1] == DELAY  # the old transits have left the window


def test_the_baseline_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError):
        TransitBaseline(size=0)
    with pytest.raises(ValueError):
        TransitBaseline(warmup=0)


# -- the bus -----------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _message(i: int, published_at: float | None) -> Incoming:
    stamp = f"2026-11-26T14:03:{i // 1000:02d}.{i % 1000:03d}Z"
    return parse_message(*pool_total(str(i), received_at=stamp), published_at=published_at)


def _bus(skew: float = 0.0, warm: int = 16) -> tuple[EventBus, Clock, Clock]:
    """A bus whose baseline has seen ``warm`` messages with a 10 ms transit (plus ``skew``)."""
    mono, wall = Clock(100.0), Clock(1_800_000_000.0 + skew)
    bus = EventBus(reorder_delay=DELAY, clock=mono, wall_clock=wall, history_from_ms=0)
    for i in range(warm):
        bus.publish(_message(i, wall.now - skew - 0.01))
    mono.now += DELAY
    wall.now += DELAY
    assert bus.release_due() == warm
    return bus, mono, wall


def _ids(bus: EventBus) -> list[str]:
    client = bus.connect(EventFilter(), after=0)
    out = []
    while batch := client.take():
        out += [e.id for e in batch]
    return out


def test_a_message_that_spent_60_ms_more_in_transit_waits_only_40_ms() -> None:
    bus, mono, wall = _bus()
    assert bus.publish(_message(100, wall.now - 0.07)) is None  # 70 ms transit: 60 over 10
    mono.now += 0.039
    assert bus.release_due() == 0
    mono.now += 0.002
    assert bus.release_due() == 1


def test_the_bus_holds_a_message_slower_than_the_delay_for_the_floor() -> None:
    bus, mono, wall = _bus()
    assert bus.publish(_message(100, wall.now - 0.2)) is None
    mono.now += DELAY / 4 - 0.001
    assert bus.release_due() == 0
    mono.now += 0.002
    assert bus.release_due() == 1
    assert bus.stats().late == 0


def test_a_held_message_with_a_smaller_id_still_goes_first() -> None:
    bus, mono, wall = _bus()
    older = _message(100, wall.now - 0.01)  # fast: held the whole 100 ms
    newer = _message(101, wall.now - 0.2)  # slow: due at once, but behind the older one
    bus.publish(older)
    assert bus.publish(newer) is None
    assert bus.release_due() == 0
    mono.now += DELAY
    assert bus.release_due() == 2
    assert _ids(bus)[-2:] == [older.id, newer.id]
    assert bus.stats().late == 0


def test_a_message_arriving_after_a_later_id_was_released_is_late() -> None:
    bus, mono, wall = _bus()
    newer = _message(101, wall.now - 0.01)
    bus.publish(newer)
    mono.now += DELAY
    wall.now += DELAY
    bus.release_due()
    older = _message(100, wall.now - 0.15)  # published first, 140 ms slower than the fastest
    assert bus.publish(older) is None
    mono.now += DELAY / 4
    assert bus.release_due() == 1
    assert bus.stats().late == 1
    assert _ids(bus)[-2:] == [newer.id, older.id]


def test_during_the_baseline_warm_up_every_message_waits_the_whole_delay() -> None:
    bus, mono, wall = _bus(warm=0)
    assert bus.publish(_message(100, wall.now - 0.09)) is None
    mono.now += DELAY - 0.001
    assert bus.release_due() == 0
    mono.now += 0.001
    assert bus.release_due() == 1


def _run(skew: float, transits: list[float]) -> EventBus:
    """Message ``i`` published 5 ms after ``i - 1``; arrivals in time order, 1 ms steps."""
    bus, mono, wall = _bus(skew=skew)
    start = wall.now - skew  # Pub/Sub's clock
    arrivals = sorted((i * 0.005 + t, i) for i, t in enumerate(transits))
    step = 0
    while arrivals or bus.stats().pending:
        now = step * 0.001
        while arrivals and arrivals[0][0] <= now + 1e-9:
            i = arrivals.pop(0)[1]
            bus.publish(_message(200 + i, start + i * 0.005))
        bus.release_due()
        step += 1
        mono.now += 0.001
        wall.now += 0.001
    return bus


def test_instances_with_skewed_clocks_hold_alike_and_release_in_id_order() -> None:
    # Transits up to the baseline (10 ms) + the delay: out of arrival order, none late.
    transits = [0.01, 0.09, 0.03, 0.11, 0.05, 0.01, 0.1, 0.04, 0.02, 0.08]
    orders = []
    for skew in (0.0, 2.5, -1.0):  # this instance's wall clock minus Pub/Sub's
        bus = _run(skew, transits)
        assert bus.stats().late == 0
        orders.append([i[:13] for i in _ids(bus)])  # the time part: frame ids are random
    assert orders[0] == orders[1] == orders[2]
    assert orders[0][16:] == sorted(orders[0][16:]) and len(orders[0]) == 16 + len(transits)


def test_a_message_slower_than_baseline_plus_delay_can_be_late() -> None:
    bus = _run(0.0, [0.2, 0.01, 0.01])  # the first is 190 ms over the baseline
    assert bus.stats().late == 1


def test_a_burst_after_a_stall_is_still_released_in_id_order() -> None:
    # A 300 ms stall: ten messages, all far older than the delay, arrive within 2 ms, reversed.
    transits = [0.3 - i * 0.005 + (9 - i) * 0.0002 for i in range(10)]
    bus = _run(0.0, transits)
    assert bus.stats().late == 0
    ids = _ids(bus)[16:]
    assert ids == sorted(ids) and len(ids) == 10


def test_the_documented_floor_window_and_warm_up_are_the_codes() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2].joinpath("docs", "webapp.md").read_text()
    bullet = " ".join(docs[docs.index("* **Same order everywhere.**") :][:2500].split())
    assert MIN_HOLD_SHARE == 0.25 and "SSE_REORDER_MS/4" in bullet
    defaults = TransitBaseline()
    assert f"the last {defaults.size} messages" in bullet
    assert f"for the first {defaults.warmup} messages" in bullet


# -- the benchmark's replay of recorded arrivals (benchmarks/reorder_replay.py) ----------------


def test_the_replay_tells_the_two_rules_apart_on_the_same_arrivals() -> None:
    from benchmarks.reorder_replay import Arrival, compare

    # 20 fast messages (5 ms: the baseline), then two slow ones, the smaller id slower still.
    arrivals = [Arrival(_message(i, i * 0.01), i * 0.01, i * 0.01 + 0.005) for i in range(20)]
    arrivals.append(Arrival(_message(20, 0.2), 0.2, 0.35))  # 150 ms in transit
    arrivals.append(Arrival(_message(21, 0.21), 0.21, 0.3))  # 90 ms: due at 0.325, not 0.4
    results = {(r.rule, r.delay_ms): r for r in compare(arrivals, delays_ms=(100,))}
    before, after = results["arrival", 100], results["publish", 100]
    assert before.messages == after.messages == 22
    assert before.late == 0  # 50 ms between the two arrivals: inside the arrival rule's 100
    assert after.late == 1  # 20 arrives after 21's release: 145 ms over the fastest transit
    assert after.p99_ms < before.p99_ms
