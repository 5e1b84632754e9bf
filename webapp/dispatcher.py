"""One thread writes every SSE stream: the fan-out engine behind gunicorn.

A thread per open stream that wakes for every event costs a GIL hand-off per client per
write; at a thousand clients that, not the bytes, is what saturates a core.  So a stream
served by gunicorn only *starts* in its request thread (headers, ``retry:``, the gap notice)
and then hands its socket to the dispatcher and parks, until the dispatcher says the stream
is over.  Every ``tick`` seconds the dispatcher reads the new events from the bus's ring once,
encodes each (cursor, filter) group's payload once, and pushes it into each client's
:class:`~webapp.outbox.Outbox`, which it drains into the non-blocking sockets; an ``epoll``
selector tells it when a stalled socket can take more and when a client has hung up.

Backpressure: a client gets new events only when its outbox is empty, so memory per client is
one chunk; what it has not taken waits in the shared ring.  It is dropped when it is more than
``client_queue`` events behind or its output made no progress for ``write_timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from webapp import sse
from webapp.bus import ClientStream, EventBus
from webapp.events import EventKey
from webapp.filters import EventFilter
from webapp.outbox import Outbox, chunk
from webapp.percentiles import Window
from webapp.ring import RingBuffer

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

_BATCH = 500
_BatchKey = tuple[int, EventFilter, EventKey | None]
"""A client's ``(cursor, filter, floor)``: clients that share it are sent the same batch."""


@dataclass(eq=False)
class _Member:
    client: ClientStream
    sock: socket.socket
    outbox: Outbox
    done: threading.Event = field(default_factory=threading.Event)
    writing: bool = False


class Dispatcher:
    def __init__(
        self,
        bus: EventBus,
        *,
        tick: float = 0.05,
        heartbeat: float = 15.0,
        client_queue: int = 10_000,
        write_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.tick = max(tick, 0.005)
        self.heartbeat = heartbeat
        self.client_queue = client_queue
        self.write_timeout = write_timeout
        self._clock = clock
        self._selector = selectors.DefaultSelector()
        self._incoming: queue.SimpleQueue[_Member] = queue.SimpleQueue()
        self._members: dict[int, _Member] = {}
        self._stop = threading.Event()
        self._last_measured = 0
        self.tick_duration = Window()
        """Seconds each dispatch (read, encode, write to every stream) took."""
        self.event_delay = Window()
        """Seconds from an event entering the bus to its first write by the dispatcher."""
        self._thread = threading.Thread(target=self._run, name="sse-dispatcher", daemon=True)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    @property
    def streams(self) -> int:
        return len(self._members)

    def adopt(self, client: ClientStream, sock: socket.socket, chunked: bool) -> threading.Event:
        """Take over writing ``client``'s stream on ``sock``; the event is set when it ends."""
        member = _Member(client, sock, Outbox(self.client_queue, chunked, self._clock))
        if self._stop.is_set():
            member.done.set()
        else:
            self._incoming.put(member)
        return member.done

    @property
    def alive(self) -> bool:
        """The writer thread runs (``/healthz``: without it no stream gets a byte)."""
        return self._thread.is_alive()

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Flush what is pending (up to ``flush_timeout``), end every stream, stop the thread."""
        self._flush_timeout = flush_timeout
        self._stop.set()
        self._thread.join(flush_timeout + 5)

    # -- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = self._clock()
        while not self._stop.is_set():
            try:
                next_tick = self._step(next_tick)
            except Exception:  # one bad stream must not stop every other stream
                log.exception("SSE dispatcher step failed; continuing")
                time.sleep(self.tick)
        self._drain_on_stop()

    def _step(self, next_tick: float) -> float:
        """One loop turn: admit new streams, serve socket events, dispatch on the tick."""
        self._admit()
        timeout = max(0.0, next_tick - self._clock())
        for key, mask in self._selector.select(timeout) if self._members else ():
            member: _Member = key.data
            if mask & selectors.EVENT_READ:
                self._on_readable(member)
            if mask & selectors.EVENT_WRITE and member.client.number in self._members:
                self._write(member)
        if not self._members:
            self._stop.wait(timeout)
        now = self._clock()
        if now >= next_tick:
            seen = self.bus._ring.head
            self._dispatch(now)
            self.tick_duration.add(self._clock() - now)
            newest = self.bus._ring.get(seen)
            if newest is not None and newest.seq > self._last_measured and self._members:
                self._last_measured = newest.seq
                self.event_delay.add(max(0.0, time.time() - newest.at))
            next_tick = now + self.tick
        return next_tick

    def _admit(self) -> None:
        while True:
            try:
                member = self._incoming.get_nowait()
            except queue.Empty:
                return
            try:
                member.sock.setblocking(False)
                self._selector.register(member.sock, selectors.EVENT_READ, member)
            except (OSError, ValueError):
                self._finish(member, "disconnected")
                continue
            self._members[member.client.number] = member

    def _on_readable(self, member: _Member) -> None:
        try:
            data = member.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client hung up (or was shut down by a drop)
            self._finish(member, "disconnected")

    def _dispatch(self, now: float) -> None:  # noqa: C901 - one pass, one outcome per client per tick
        ring = self.bus._ring
        head, oldest = self.bus.bounds()
        cache: dict[_BatchKey, tuple[bytes, int, int]] = {}
        wires: dict[tuple[_BatchKey, bool], bytes] = {}  # the same payload, chunk-framed once
        write_timeout = self.write_timeout
        for member in list(self._members.values()):
            client = member.client
            outbox = member.outbox
            if client.closed and client.closed_reason != "shutdown":
                self._finish(member, client.closed_reason or "closed")
                continue
            behind = head - client.cursor
            if behind + outbox.pending_events > self.client_queue or client.cursor + 1 < oldest:
                self._drop(member, f"{behind} events behind")
                continue
            if outbox.stalled_since is not None and now - outbox.stalled_since > write_timeout:
                self._drop(member, f"no write progress for {now - outbox.stalled_since:.1f}s")
                continue
            if outbox:  # still pending from an earlier tick: keep draining, take nothing new
                self._write(member)
            elif behind > 0:
                key = (client.cursor, client.filter, client.floor)
                batch = cache.get(key)
                if batch is None:
                    batch = cache[key] = self._batch(client, ring)
                payload, count, last = batch
                client.cursor = last
                if client.floor is not None:
                    client.passed(ring.get(last))
                if count:
                    wire_key = (key, outbox.chunked)
                    wire = wires.get(wire_key)
                    if wire is None:
                        wire = wires[wire_key] = chunk(payload) if outbox.chunked else payload
                    self._send(member, wire, count)
            elif now - outbox.last_write >= self.heartbeat:
                self._send(member, outbox.frame(sse.comment("heartbeat")), 0)
            if client.closed and not outbox and client.cursor >= head:
                self._finish(member, "shutdown")  # final flush done

    @staticmethod
    def _batch(client: ClientStream, ring: RingBuffer) -> tuple[bytes, int, int]:
        events = ring.after(client.cursor, _BATCH)
        for offset, event in enumerate(events):
            if event is None or event.seq != client.cursor + 1 + offset:
                events = events[:offset]
                break
        if not events:
            return b"", 0, client.cursor
        if client.floor is not None:
            floor = client.floor
            last = events[-1].seq
            events = [e for e in events if e.late or e.key > floor]
            if not events:
                return b"", 0, last
        else:
            last = events[-1].seq
        chosen = (
            events
            if client.filter.is_everything
            else [e for e in events if client.filter.matches(e)]
        )
        return b"".join(e.frame for e in chosen), len(chosen), last

    def _send(self, member: _Member, wire: bytes, events: int) -> None:
        """Fast path: one ``send`` for a client that keeps up; the rest waits in its outbox."""
        try:
            member.outbox.send_framed(wire, events, member.sock.send)
        except OSError:
            self._finish(member, "disconnected")
            return
        member.client.sent = member.outbox.sent_events
        if member.outbox:
            member.client.writing_since = member.outbox.stalled_since
            self._want_write(member, True)

    def _want_write(self, member: _Member, wanted: bool) -> None:
        if wanted != member.writing:
            member.writing = wanted
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wanted else 0)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.modify(member.sock, events, member)

    def _write(self, member: _Member) -> None:
        try:
            member.outbox.flush(member.sock.send)
        except OSError:
            self._finish(member, "disconnected")
            return
        member.client.sent = member.outbox.sent_events
        member.client.writing_since = member.outbox.stalled_since
        self._want_write(member, bool(member.outbox))

    def _drop(self, member: _Member, why: str) -> None:
        log.warning(
            "dropped slow SSE client #%d (%s): %s",
            member.client.number,
            member.client.address,
            why,
            # counted by the log-based metric tote_webapp_dropped_clients (Terraform)
            extra={"json_fields": {"event": "sse-client-dropped", "why": why}},
        )
        self.bus.drop(member.client, "slow")
        with contextlib.suppress(OSError):
            member.sock.shutdown(socket.SHUT_RDWR)
        self._finish(member, "slow")

    def _finish(self, member: _Member, reason: str) -> None:
        self._members.pop(member.client.number, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(member.sock)
        with contextlib.suppress(OSError):
            member.sock.setblocking(True)
        member.client.sent = member.outbox.sent_events
        self.bus.disconnect(member.client)
        member.done.set()

    def _drain_on_stop(self) -> None:
        """Graceful shutdown: keep dispatching until every stream has flushed or time is up."""
        self._admit()
        deadline = self._clock() + getattr(self, "_flush_timeout", 2.0)
        while self._members and self._clock() < deadline:
            self._dispatch(self._clock())
            if self._members:
                time.sleep(0.01)
        for member in list(self._members.values()):
            self._finish(member, "shutdown")
