from __future__ import annotations

from connector.backoff import Backoff


def test_ceiling_doubles_up_to_the_cap() -> None:
    b = Backoff(base=0.5, cap=4.0, draw=lambda: 1.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    draws = iter([0.0, 0.5, 0.25])
    b = Backoff(base=1.0, cap=100.0, draw=lambda: next(draws))
    assert [b.next_delay() for _ in range(3)] == [0.0, 1.0, 1.0]


def test_real_jitter_stays_in_bounds() -> None:
    b = Backoff(base=1.0, cap=8.0)
    for attempt in range(50):
        ceiling = b.ceiling()
        assert 0.0 <= b.next_delay() <= ceiling <= 8.0, attempt


def test_stable_connection_resets_short_one_does_not() -> None:
    b = Backoff(base=1.0, cap=60.0, stable=30.0, draw=lambda: 1.0)
    for _ in range(4):
        b.next_delay()
    b.connection_ended(lasted=5.0)
    assert b.next_delay() == 16.0
    b.connection_ended(lasted=31.0)
    assert b.next_delay() == 1.0


def test_many_failures_do_not_overflow() -> None:
    b = Backoff(base=1.0, cap=10.0, draw=lambda: 1.0)
    b.attempt = 10_000
    assert b.next_delay() == 10.0
