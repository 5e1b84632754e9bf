"""The dispatcher against real (local, socketpair) sockets: no server, no network."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.webapp.messages import pool_total
from webapp import sse
from webapp.bus import EventBus
from webapp.dispatcher import Dispatcher
from webapp.events import parse_message
from webapp.filters import EventFilter

WAIT = 30.0  # generous: CI machines are loaded


@pytest.fixture
def bus() -> EventBus:
    return EventBus(buffer_size=5000, client_queue=200, epoch="ep")


@pytest.fixture
def dispatcher(bus: EventBus) -> Iterator[Dispatcher]:
    d = Dispatcher(bus, tick=0.01, heartbeat=0.3, client_queue=200, write_timeout=2.0).start()
    yield d
    bus.close()
    d.stop(flush_timeout=1)


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair()


def _read_events(peer: socket.socket, parser: sse.Parser, count: int) -> list[sse.Message]:
    peer.settimeout(0.2)
    got: list[sse.Message] = []
    deadline = time.monotonic() + WAIT
    while len(got) < count and time.monotonic() < deadline:
        try:
            data = peer.recv(65536)
        except TimeoutError:
            continue
        if not data:
            break
        got.extend(parser.feed(data))
    return got


def _ids(bus: EventBus, count: int) -> list[str]:
    """The ids of the first ``count`` events the bus released, in release order."""
    return [bus._ring.get(seq).id for seq in range(1, count + 1)]  # type: ignore[union-attr]  # a sequence number within the ring's bounds


def _publish(bus: EventBus, n: int, size: int = 10) -> None:
    for i in range(n):
        bus.publish(parse_message(*pool_total(str(i) + "." + "0" * size)))


def test_adopted_stream_receives_every_event_in_order(
    bus: EventBus, dispatcher: Dispatcher
) -> None:
    server, peer = _pair()
    dispatcher.adopt(bus.connect(EventFilter()), server, chunked=False)
    _publish(bus, 50)
    events = _read_events(peer, sse.Parser(), 50)
    assert [m.id for m in events] == _ids(bus, 50)
    assert all(m.event == "pool-total" for m in events)
    assert (dispatcher.event_delay.summary()["samples"] or 0) >= 1
    assert (dispatcher.tick_duration.summary()["samples"] or 0) >= 1


def test_filters_and_heartbeats(bus: EventBus, dispatcher: Dispatcher) -> None:
    server, peer = _pair()
    dispatcher.adopt(
        bus.connect(EventFilter.from_query({"types": ["event-status"]})), server, chunked=False
    )
    _publish(bus, 5)
    parser = sse.Parser()
    peer.settimeout(WAIT)
    data = peer.recv(65536)  # the first thing written is a heartbeat: no event matched
    assert list(parser.feed(data)) == [] and parser.comments == ["heartbeat"]


def test_chunked_framing_when_asked(bus: EventBus, dispatcher: Dispatcher) -> None:
    server, peer = _pair()
    dispatcher.adopt(bus.connect(EventFilter()), server, chunked=True)
    _publish(bus, 1)
    peer.settimeout(WAIT)
    data = peer.recv(65536)
    size, _, rest = data.partition(b"\r\n")
    assert (
        int(size, 16) == len(rest) - 2
        and rest.startswith(b"id: " + _ids(bus, 1)[0].encode() + b"\n")
        and rest.endswith(b"\n\n\r\n")
    )


def test_a_slow_client_is_dropped_while_a_fast_one_keeps_up(
    bus: EventBus, dispatcher: Dispatcher
) -> None:
    slow_server, slow_peer = _pair()
    for s in (slow_server, slow_peer):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fast_server, fast_peer = _pair()
    slow_done = dispatcher.adopt(
        bus.connect(EventFilter(), address="slow"), slow_server, chunked=False
    )
    fast_done = dispatcher.adopt(
        bus.connect(EventFilter(), address="fast"), fast_server, chunked=False
    )
    parser = sse.Parser()
    received: list[sse.Message] = []
    for _ in range(10):  # 600 events of ~1 KB; the slow peer never reads
        _publish(bus, 60, size=700)
        received.extend(_read_events(fast_peer, parser, len(received) + 60 - len(received)))
    received.extend(_read_events(fast_peer, parser, 600 - len(received)))
    assert slow_done.wait(WAIT), "the slow client was never dropped"
    assert [m.id for m in received] == _ids(bus, 600)
    assert not fast_done.is_set()
    assert bus.stats().dropped_clients == 1 and bus.stats().clients == 1


def test_a_client_that_hangs_up_is_released(bus: EventBus, dispatcher: Dispatcher) -> None:
    server, peer = _pair()
    done = dispatcher.adopt(bus.connect(EventFilter()), server, chunked=False)
    peer.close()
    assert done.wait(WAIT)
    assert bus.stats().clients == 0 and bus.stats().dropped_clients == 0


def test_shutdown_flushes_what_is_in_flight(bus: EventBus) -> None:
    d = Dispatcher(bus, tick=5.0, heartbeat=30).start()  # long tick: nothing sent before stop
    server, peer = _pair()
    done = d.adopt(bus.connect(EventFilter()), server, chunked=False)
    time.sleep(0.05)
    _publish(bus, 20)
    bus.close()
    d.stop(flush_timeout=5)
    assert done.is_set()
    assert [m.id for m in _read_events(peer, sse.Parser(), 20)] == _ids(bus, 20)


def test_a_failing_step_does_not_stop_the_dispatcher(
    bus: EventBus, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = dispatcher._dispatch

    def flaky(now: float) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        original(now)

    monkeypatch.setattr(dispatcher, "_dispatch", flaky)
    server, peer = _pair()
    dispatcher.adopt(bus.connect(EventFilter()), server, chunked=False)
    _publish(bus, 3)
    assert [m.id for m in _read_events(peer, sse.Parser(), 3)] == _ids(bus, 3)
    assert calls["n"] > 1
