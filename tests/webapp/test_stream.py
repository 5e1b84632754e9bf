from __future__ import annotations

import itertools

from tests.webapp.messages import pool_total
from webapp import sse
from webapp.bus import EventBus
from webapp.events import parse_message
from webapp.filters import EventFilter
from webapp.replay import Gap
from webapp.stream import event_stream, opening


def _publish(bus: EventBus, n: int) -> None:
    for i in range(n):
        bus.publish(parse_message(*pool_total(str(i))))


def _messages(chunks: list[bytes]) -> list[sse.Message]:
    parser = sse.Parser()
    return [m for c in chunks for m in parser.feed(c)]


def test_opening_has_retry_and_the_gap_notice_without_an_id() -> None:
    data = opening("ep", 2000, Gap("expired", "ep-1", 3, "ep-5"))
    parser = sse.Parser()
    (notice,) = list(parser.feed(data))
    assert parser.retry == 2000
    assert notice.event == "replay-gap" and notice.id is None
    assert notice.json() == {
        "reason": "expired",
        "last_event_id": "ep-1",
        "missed": 3,
        "oldest_available": "ep-5",
    }


def test_replay_then_live_events_in_order() -> None:
    bus = EventBus(epoch="ep")
    _publish(bus, 5)
    ids = [bus._ring.get(seq).id for seq in range(1, 6)]  # type: ignore[union-attr]  # a sequence number within the ring's bounds
    client = bus.connect(EventFilter(), after=bus.plan(ids[1]).after)
    stream = event_stream(bus, client, heartbeat=30, flush_interval=0, sleep=lambda _: None)
    chunks = [next(stream), next(stream)]
    _publish(bus, 2)
    chunks.append(next(stream))
    ids += [bus._ring.get(seq).id for seq in (6, 7)]  # type: ignore[union-attr]  # a sequence number within the ring's bounds
    assert [m.id for m in _messages(chunks)] == ids[2:]
    stream.close()
    # The last chunk was handed over but the server never asked for more: not counted as out.
    assert bus.stats().clients == 0 and bus.stats().events_out == 3


def test_heartbeat_when_idle() -> None:
    bus = EventBus(epoch="ep")
    client = bus.connect(EventFilter())
    ticks = itertools.count()
    stream = event_stream(bus, client, heartbeat=5, clock=lambda: next(ticks) * 10.0)
    next(stream)
    assert next(stream) == sse.comment("heartbeat")
    stream.close()


def test_stream_ends_when_the_client_is_dropped_and_releases_its_slot() -> None:
    bus = EventBus(epoch="ep")
    finished: list[bool] = []
    client = bus.connect(EventFilter())
    stream = event_stream(bus, client, heartbeat=30, on_finish=lambda: finished.append(True))
    next(stream)
    bus.drop(client, "slow")
    assert list(stream) == []
    assert finished == [True]


def test_filtered_out_events_are_skipped_without_writing() -> None:
    bus = EventBus(epoch="ep")
    client = bus.connect(EventFilter.from_query({"types": ["event-status"]}))
    stream = event_stream(bus, client, heartbeat=0.2, flush_interval=0)
    next(stream)
    _publish(bus, 3)
    assert next(stream) == sse.comment("heartbeat")  # nothing matched, only the heartbeat
    assert client.lag() == 0
    stream.close()
