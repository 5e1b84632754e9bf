"""Ordered release and Last-Event-ID resume across instances (two buses, pure, no server)."""

from __future__ import annotations

import random

from tests.webapp.messages import pool_total
from webapp.bus import EventBus
from webapp.events import Incoming, parse_message
from webapp.filters import EventFilter

EVERYTHING = EventFilter()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _messages(count: int) -> list[Incoming]:
    return [
        parse_message(
            *pool_total(str(i), received_at=f"2026-11-26T14:03:{i // 1000:02d}.{i % 1000:03d}Z")
        )
        for i in range(count)
    ]


def _drain(bus: EventBus, after: int, floor=None) -> list[str]:
    client = bus.connect(EVERYTHING, after=after, floor=floor)
    out = []
    while batch := client.take():
        out += [e.id for e in batch]
    return out


def test_messages_out_of_order_within_the_delay_are_released_in_id_order() -> None:
    clock = Clock()
    bus = EventBus(reorder_delay=0.1, clock=clock)
    messages = _messages(50)
    shuffled = messages[:]
    random.Random(1).shuffle(shuffled)
    for m in shuffled:
        assert bus.publish(m) is None  # held
    assert bus.release_due() == 0
    clock.now += 0.1
    assert bus.release_due() == 50
    assert _drain(bus, 0) == [m.id for m in messages]
    assert bus.stats().late == 0


def test_a_message_later_than_the_delay_is_released_at_once_and_counted() -> None:
    clock = Clock()
    bus = EventBus(reorder_delay=0.1, clock=clock)
    first, second = _messages(2)
    bus.publish(second)
    clock.now += 0.2
    bus.release_due()
    bus.publish(first)
    clock.now += 0.2
    bus.release_due()
    assert bus.stats().late == 1
    assert _drain(bus, 0) == [second.id, first.id]


def test_a_warming_instance_releases_its_window_in_order_only_when_done() -> None:
    bus = EventBus(reorder_delay=0.0, warming=True)
    messages = _messages(20)
    for m in reversed(messages):
        bus.publish(m)
    assert bus.release_due(float("inf")) == 0 and bus.last_event_id() is None
    assert bus.finish_warmup(history_from_ms=0) == 20
    assert _drain(bus, 0) == [m.id for m in messages]


def _instance(messages: list[Incoming], seed: int) -> EventBus:
    """An instance that received ``messages`` in its own (slightly different) arrival order."""
    clock = Clock()
    bus = EventBus(reorder_delay=0.05, clock=clock, history_from_ms=0)
    order = messages[:]
    rng = random.Random(seed)
    i = 0
    while i < len(order) - 1:  # neighbours swap: arrival jitter below the delay
        if rng.random() < 0.3:
            order[i], order[i + 1] = order[i + 1], order[i]
            i += 1
        i += 1
    for m in order:
        bus.publish(m)
        clock.now += 0.01
        bus.release_due()
    clock.now += 1
    bus.release_due()
    return bus


def test_resuming_on_another_instance_loses_nothing_and_repeats_nothing() -> None:
    messages = _messages(300)
    a, b = _instance(messages, 1), _instance(messages, 2)
    seen_on_a = _drain(a, 0)[:137]  # the connection to A is cut after 137 events
    plan = b.plan(seen_on_a[-1])
    assert plan.gap is None
    rest = _drain(b, plan.after, plan.floor)
    assert seen_on_a + rest == [m.id for m in messages]


def test_resuming_on_an_instance_that_is_behind_skips_what_the_client_has() -> None:
    messages = _messages(100)
    a = _instance(messages, 1)
    b = _instance(messages[:60], 2)  # B has not received the last 40 yet
    seen_on_a = _drain(a, 0)[:80]
    plan = b.plan(seen_on_a[-1])
    assert plan.gap is None and plan.floor is not None
    client = b.connect(EVERYTHING, after=plan.after, floor=plan.floor)
    assert client.take() == []  # nothing B holds is new to the client
    for m in messages[60:]:
        b.publish(m)
    b.release_due(float("inf"))
    received = []
    while batch := client.take():
        received += [e.id for e in batch]
    assert seen_on_a + received == [m.id for m in messages]


def test_an_id_older_than_the_history_is_reported_as_a_gap() -> None:
    messages = _messages(30)
    bus = EventBus(buffer_size=10, history_from_ms=0)
    for m in messages:
        bus.publish(m)
    plan = bus.plan(messages[2].id)  # evicted from the 10-event ring
    assert plan.gap is not None and plan.gap.reason == "expired"
    late_starter = EventBus(history_from_ms=messages[20].key.ms)
    for m in messages[20:]:
        late_starter.publish(m)
    gap = late_starter.plan(messages[5].id).gap
    assert gap is not None and gap.reason == "expired"
    assert late_starter.plan(messages[19].id).gap is not None
    assert late_starter.plan(messages[20].id).gap is None


def test_an_id_that_is_not_ours_gets_an_unknown_id_gap() -> None:
    bus = EventBus()
    bus.publish(_messages(1)[0])
    gap = bus.plan("some-other-id").gap
    assert gap is not None and gap.reason == "unknown-id"


def test_reference_data_older_than_the_history_names_things_but_is_not_replayed() -> None:
    from tests.webapp.messages import PRODUCT, reference

    bus = EventBus(warming=True)
    old_name = parse_message(
        *reference("product", PRODUCT, {"bet_type": "WIN"}, as_of="2026-11-26T06:00:00.000Z")
    )
    pool = parse_message(*pool_total("5", received_at="2026-11-26T14:00:00.000Z"))
    bus.publish(pool)
    bus.publish(old_name)
    history = pool.key.ms - 60_000  # the typed window: from 13:59
    assert bus.finish_warmup(history_from_ms=history) == 1  # only the pool is in the history
    assert _drain(bus, 0) == [pool.id]
    assert bus.reference.get("product", PRODUCT) is not None
    entries, _ = bus.snapshot()
    streams = {e.event.stream: e for e in entries}
    assert set(streams) == {"reference", "pool-total"}
    assert b'"bet_type":"WIN"' in streams["pool-total"].item  # named
