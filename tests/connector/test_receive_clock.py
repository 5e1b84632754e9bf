"""The receive clock: stamps strictly increase, follow the wall clock, and say how far they led."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from connector.receive_clock import ReceiveClock
from contract.ingress import format_timestamp

T0 = datetime(2026, 11, 30, 14, 30, 0, 123_456, tzinfo=UTC)


class Wall:
    """A settable wall clock (``ReceiveClock`` reads nanoseconds since 1970)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> int:
        delta = self.at - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def test_follows_the_wall_clock_in_whole_milliseconds() -> None:
    wall = Wall(T0)
    clock = ReceiveClock(wall)
    assert clock.now() == T0.replace(microsecond=123_000)
    wall.at = T0 + timedelta(milliseconds=40)
    assert clock.now() == T0.replace(microsecond=163_000)
    assert clock.bumped == 0 and clock.max_lead_ms == 0


def test_frames_in_one_millisecond_are_stamped_apart_in_the_order_read() -> None:
    wall = Wall(T0)
    clock = ReceiveClock(wall)
    stamps = [format_timestamp(clock.now()) for _ in range(3)]
    assert stamps == [
        "2026-11-30T14:30:00.123Z",
        "2026-11-30T14:30:00.124Z",
        "2026-11-30T14:30:00.125Z",
    ]
    assert (clock.bumped, clock.max_lead_ms) == (2, 2)
    wall.at = T0 + timedelta(milliseconds=1)  # the wall clock is still behind the stamps
    assert format_timestamp(clock.now()) == "2026-11-30T14:30:00.126Z"
    wall.at = T0 + timedelta(milliseconds=10)  # the burst is over: back on the wall clock
    assert format_timestamp(clock.now()) == "2026-11-30T14:30:00.133Z"
    assert clock.max_lead_ms == 2


def test_a_wall_clock_stepping_back_never_moves_stamps_back() -> None:
    wall = Wall(T0)
    clock = ReceiveClock(wall)
    first = clock.now()
    wall.at = T0 - timedelta(seconds=2)
    assert clock.now() == first + timedelta(milliseconds=1)


def test_stamps_from_many_threads_are_all_distinct() -> None:
    clock = ReceiveClock(Wall(T0))
    stamps: list[datetime] = []
    lock = threading.Lock()

    def stamp() -> None:
        mine = [clock.now() for _ in range(500)]
        with lock:
            stamps.extend(mine)

    threads = [threading.Thread(target=stamp) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(stamps)) == 2000
