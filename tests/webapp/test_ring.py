from __future__ import annotations

import pytest

from tests.webapp.messages import pool_total
from webapp.events import make_event, parse_message
from webapp.ring import RingBuffer

_INCOMING = parse_message(*pool_total("1"))


def _events(ring: RingBuffer, n: int) -> None:
    for _ in range(n):
        ring.append(make_event(_INCOMING, ring.head + 1))


def test_empty_ring() -> None:
    ring = RingBuffer(3)
    assert len(ring) == 0 and ring.head == 0 and ring.oldest == 1
    assert ring.after(0) == [] and ring.get(1) is None


def test_keeps_the_last_capacity_events_across_wrap_around() -> None:
    ring = RingBuffer(3)
    _events(ring, 7)
    assert len(ring) == 3 and ring.head == 7 and ring.oldest == 5
    assert [e.seq for e in ring.after(0)] == [5, 6, 7]
    assert [e.seq for e in ring.after(5)] == [6, 7]
    assert ring.after(7) == []
    assert ring.get(4) is None and ring.get(6).seq == 6  # type: ignore[union-attr]  # seq 6 is in the ring (the test's setup)


def test_after_honours_a_limit() -> None:
    ring = RingBuffer(10)
    _events(ring, 8)
    assert [e.seq for e in ring.after(2, limit=3)] == [3, 4, 5]


def test_out_of_order_appends_are_refused() -> None:
    ring = RingBuffer(3)
    with pytest.raises(ValueError, match="in order"):
        ring.append(make_event(_INCOMING, 2))
    with pytest.raises(ValueError, match="at least 1"):
        RingBuffer(0)
