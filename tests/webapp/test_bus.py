from __future__ import annotations

import threading

import pytest

from tests.webapp.messages import event_status, pool_total
from webapp.bus import EventBus
from webapp.events import Incoming, parse_message
from webapp.filters import EventFilter

EVERYTHING = EventFilter()


def _pool(amount: str = "1", message_id: str = "") -> Incoming:
    return parse_message(*pool_total(amount), message_id=message_id)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_events_carry_their_data_derived_ids_and_ring_positions() -> None:
    bus = EventBus(epoch="ep")
    incoming = [_pool() for _ in range(3)]
    events = [bus.publish(i) for i in incoming]
    assert [e.id for e in events] == [i.id for i in incoming]  # type: ignore[union-attr]  # released at once: in order, no reorder window
    assert [e.seq for e in events] == [1, 2, 3]  # type: ignore[union-attr]  # released at once: in order, no reorder window


def test_redelivered_or_republished_messages_are_not_sent_twice() -> None:
    bus = EventBus(epoch="ep")
    message = pool_total("1")
    assert bus.publish(parse_message(*message, message_id="m1")) is not None
    assert bus.publish(parse_message(*message, message_id="m1")) is None  # redelivery
    assert bus.publish(parse_message(*message, message_id="m9")) is None  # republished
    assert bus.publish(_pool(message_id="m2")) is not None
    assert bus.stats().duplicates == 2 and bus.stats().events_in == 2


def test_every_client_sees_every_event_through_its_own_cursor() -> None:
    bus = EventBus(epoch="ep")
    a = bus.connect(EVERYTHING)
    b = bus.connect(EventFilter.from_query({"types": ["event-status"]}))
    first = bus.publish(_pool())
    second = bus.publish(parse_message(*event_status("OFF")))
    assert first is not None and second is not None
    assert [e.id for e in a.take()] == [first.id, second.id]
    assert [e.id for e in b.take()] == [second.id]
    assert a.take() == [] and a.lag() == 0 and b.lag() == 0


def test_a_client_connected_after_some_events_only_sees_later_ones() -> None:
    bus = EventBus(epoch="ep")
    bus.publish(_pool())
    client = bus.connect(EVERYTHING)
    bus.publish(_pool())
    assert [e.seq for e in client.take()] == [2]


def test_wait_returns_when_an_event_arrives() -> None:
    bus = EventBus(epoch="ep")
    client = bus.connect(EVERYTHING)
    assert client.wait(0.01) is False
    threading.Timer(0.05, lambda: bus.publish(_pool())).start()
    assert client.wait(30) is True


def test_a_client_too_far_behind_is_dropped_and_its_socket_released() -> None:
    bus = EventBus(buffer_size=100, client_queue=5, epoch="ep")
    released: list[str] = []
    slow = bus.connect(EVERYTHING, on_drop=released.append)
    fast = bus.connect(EVERYTHING)
    for _ in range(6):
        bus.publish(_pool())
        fast.take()
    assert bus.reap() == [slow]
    assert slow.closed_reason == "slow" and released == ["slow"]
    assert not fast.closed
    stats = bus.stats()
    assert stats.clients == 1 and stats.dropped_clients == 1


def test_a_client_stuck_in_a_write_is_dropped_after_the_write_timeout() -> None:
    clock = Clock()
    bus = EventBus(write_timeout=10, epoch="ep", clock=clock)
    client = bus.connect(EVERYTHING)
    bus.publish(_pool())
    assert client.take()  # now "writing"
    clock.now += 9
    assert bus.reap() == []
    clock.now += 2
    assert bus.reap() == [client]


def test_a_client_that_finished_its_write_is_not_timed_out() -> None:
    clock = Clock()
    bus = EventBus(write_timeout=1, epoch="ep", clock=clock)
    client = bus.connect(EVERYTHING)
    bus.publish(_pool())
    client.written(len(client.take()))
    clock.now += 60
    assert bus.reap() == []
    assert bus.stats().events_out == 1


def test_replay_plan_is_bounded_by_the_client_queue() -> None:
    bus = EventBus(buffer_size=100, client_queue=10, epoch="ep")
    ids = [bus.publish(_pool()).id for _ in range(30)]  # type: ignore[union-attr]  # released at once: in order, no reorder window
    plan = bus.plan(ids[4])
    assert plan.after == 20 and plan.gap is not None and plan.gap.missed == 15
    assert bus.plan(ids[24]).after == 25 and bus.plan(ids[24]).gap is None


def test_close_ends_every_stream_without_counting_them_as_dropped() -> None:
    bus = EventBus(epoch="ep")
    reasons: list[str] = []
    client = bus.connect(EVERYTHING, on_drop=reasons.append)
    bus.close()
    assert client.closed_reason == "shutdown" and reasons == ["shutdown"]
    assert bus.stats().dropped_clients == 0 and bus.closed
    with pytest.raises(RuntimeError, match="shut down"):
        bus.connect(EVERYTHING)


def test_stats_report_the_buffer_span() -> None:
    bus = EventBus(buffer_size=2, epoch="ep")
    ids = [bus.publish(_pool()).id for _ in range(3)]  # type: ignore[union-attr]  # released at once: in order, no reorder window
    stats = bus.stats()
    assert (stats.oldest_id, stats.newest_id, stats.buffer_size) == (ids[1], ids[2], 2)
    assert stats.oldest_at is not None and stats.newest_at >= stats.oldest_at  # type: ignore[operator]  # newest_at is set whenever oldest_at is


def test_client_queue_cannot_exceed_the_buffer() -> None:
    with pytest.raises(ValueError, match="client_queue"):
        EventBus(buffer_size=5, client_queue=6)
