"""The board state behind GET /state: newest wins, names follow the reference data, bets private."""

from __future__ import annotations

import json
from typing import Any

from tests.webapp.messages import EVENT, PRODUCT, event_status, pool_total, reference, typed_message
from webapp.bus import EventBus
from webapp.events import Event, Incoming, parse_message
from webapp.filters import EventFilter


def _released(bus: EventBus, incoming: Incoming) -> Event:
    """``bus.publish`` of an event that must be released at once (not held, not a duplicate)."""
    event = bus.publish(incoming)
    assert event is not None, f"{incoming.id} was held or dropped"
    return event


def _items(
    bus: EventBus, query: dict[str, Any] | None = None, private: bool = False
) -> list[dict[str, Any]]:
    f = EventFilter.from_query(query or {})
    entries, _ = bus.snapshot(None if f.is_everything else f.matches, private=private)
    return [json.loads(e.item) for e in entries]


def test_the_newest_message_per_entity_wins_whatever_the_arrival_order() -> None:
    bus = EventBus()
    newer = parse_message(*pool_total("20", received_at="2026-11-26T14:03:08.000Z"))
    older = parse_message(*pool_total("10", received_at="2026-11-26T14:03:07.000Z"))
    bus.publish(newer)
    bus.publish(older)  # late: streamed, but it does not replace the newer state
    items = _items(bus)
    assert len(items) == 1 and items[0]["id"] == newer.id
    assert items[0]["data"]["data"]["gross_amounts"][0]["amount"] == "20"
    assert bus.state.stale_ignored == 1


def test_one_entry_per_entity_and_stream() -> None:
    bus = EventBus()
    for message in (pool_total("1"), pool_total("2"), event_status("OFF"), event_status("RESULT")):
        bus.publish(parse_message(*message))
    streams = sorted(i["stream"] for i in _items(bus))
    assert streams == ["event-status", "pool-total"]


def test_pools_are_named_and_joined_to_their_race_even_when_reference_comes_later() -> None:
    bus = EventBus()
    bus.publish(parse_message(*pool_total("5")))
    assert _items(bus, {"event_id": [EVENT]}) == []
    bus.publish(
        parse_message(
            *reference(
                "event",
                EVENT,
                {"venue": "Newcastle", "scheduled_start": "2026-11-26T19:25:00Z"},
            )
        )
    )
    bus.publish(
        parse_message(*reference("product", PRODUCT, {"bet_type": "WIN", "event_id": EVENT}))
    )
    pools = _items(bus, {"event_id": [EVENT], "types": ["pool-total"]})
    assert len(pools) == 1
    assert pools[0]["data"]["context"]["label"] == "Newcastle 19:25 · WIN"
    assert len(_items(bus, {"venue": ["NEWCASTLE"], "bet_type": ["win"]})) == 2  # pool + product
    names = [i for i in _items(bus, {"types": ["reference"]})]
    assert {i["data"]["kind"] for i in names} == {"event", "product"}


def test_bets_are_private_unless_authorised() -> None:
    bus = EventBus()
    bus.publish(parse_message(*typed_message("BetAccepted", {"bet_id": "ab" * 16})))
    bus.publish(parse_message(*pool_total("1")))
    assert [i["stream"] for i in _items(bus)] == ["pool-total"]
    assert sorted(i["stream"] for i in _items(bus, private=True)) == ["bet-lifecycle", "pool-total"]


def test_the_snapshot_resume_id_continues_the_stream_without_gap_or_duplicate() -> None:
    bus = EventBus(history_from_ms=0)  # the test's messages are from "before" the bus started
    _, empty_resume = bus.snapshot()
    first = _released(bus, parse_message(*pool_total("1")))
    _, resume = bus.snapshot()
    assert resume == first.id
    second = _released(bus, parse_message(*pool_total("2")))
    plan = bus.plan(resume)
    client = bus.connect(EventFilter(), after=plan.after, floor=plan.floor)
    assert [e.id for e in client.take()] == [second.id]
    plan = bus.plan(empty_resume)  # a snapshot taken before anything arrived
    assert plan.gap is None
    client = bus.connect(EventFilter(), after=plan.after, floor=plan.floor)
    assert len(client.take()) == 2


def test_items_follow_release_order_and_the_cached_answer_follows_changes() -> None:
    bus = EventBus()
    pool = _released(bus, parse_message(*pool_total("1")))
    race = _released(
        bus,
        parse_message(
            *typed_message(
                "EventStatusChanged",
                {"event_id": EVENT, "status": "OFF"},
                received_at="2026-11-26T14:04:00.000Z",
            )
        ),
    )
    body, count, resume = bus.snapshot_body()
    assert count == 2 and resume == race.id
    assert body.index(pool.id.encode()) < body.index(race.id.encode())
    assert bus.snapshot_body()[0] is body  # unchanged state: the cached bytes
    update = _released(bus, parse_message(*pool_total("2", received_at="2026-11-26T14:05:00.000Z")))
    body, count, _ = bus.snapshot_body()
    assert count == 2 and pool.id.encode() not in body
    assert body.index(race.id.encode()) < body.index(update.id.encode())
    bus.publish(parse_message(*reference("product", PRODUCT, {"bet_type": "WIN"})))
    assert b'"bet_type":"WIN"' in bus.snapshot_body()[0]  # re-named: cache invalidated


def test_an_empty_snapshot_resumes_with_every_later_event_even_old_stamped_ones() -> None:
    bus = EventBus()  # its history starts now; the messages below are stamped days ago
    _, resume = bus.snapshot()
    assert resume.endswith("-0-00000000")
    pool = _released(bus, parse_message(*pool_total("1")))
    plan = bus.plan(resume)
    assert plan.gap is None and plan.floor is None
    client = bus.connect(EventFilter(), after=plan.after, floor=plan.floor)
    assert [e.id for e in client.take()] == [pool.id]
    assert EventBus(history_from_ms=10**13).plan(resume).gap is not None  # history too short


def test_a_reference_republished_unchanged_is_not_streamed_again() -> None:
    bus = EventBus()
    values = {"bet_type": "WIN", "event_ids": [EVENT]}
    first = bus.publish(parse_message(*reference("product", PRODUCT, values)))
    again = parse_message(*reference("product", PRODUCT, values, as_of="2026-11-26T10:00:00.000Z"))
    assert first is not None and bus.publish(again) is None  # another sweep, same names
    changed = parse_message(
        *reference(
            "product", PRODUCT, {**values, "bet_type": "PLACE"}, as_of="2026-11-26T11:00:00.000Z"
        )
    )
    assert bus.publish(changed) is not None
    stats = bus.stats()
    assert stats.unchanged_reference == 1 and stats.events_in == 2
