"""The in-process event bus: one writer (the Pub/Sub shell), many readers (SSE streams).

Fan-out costs O(1) per event however many clients are connected: an event is appended once to
the shared :class:`~webapp.ring.RingBuffer`, and every client reads it through its own cursor.
A client's queue is therefore the window between its cursor and the ring's head, bounded by
``client_queue``.  A client whose window overflows, or whose last write has been stuck for
``write_timeout`` seconds, is dropped by :meth:`EventBus.reap` (run periodically by the app):
its ``on_drop`` callback shuts its socket down, which unblocks its writer thread, so a slow
client never holds up the bus or the other clients.

The bus also remembers recent Pub/Sub message ids, so a redelivered message (at-least-once
delivery) is acknowledged but not sent twice.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from webapp.events import Event, Incoming, new_epoch
from webapp.filters import EventFilter
from webapp.percentiles import Window
from webapp.replay import ReplayPlan, plan_replay
from webapp.ring import RingBuffer

__all__ = ["BusStats", "ClientStream", "EventBus"]


@dataclass(frozen=True, slots=True)
class BusStats:
    """A consistent snapshot of the counters shown by ``/status``."""

    epoch: str
    events_in: int
    events_out: int
    duplicates: int
    clients: int
    clients_total: int
    dropped_clients: int
    buffer_size: int
    buffer_capacity: int
    oldest_id: str | None
    newest_id: str | None
    oldest_at: float | None
    newest_at: float | None


class ClientStream:
    """One connected SSE client's view of the bus (its cursor, filter and health)."""

    def __init__(
        self,
        bus: EventBus,
        number: int,
        event_filter: EventFilter,
        after: int,
        address: str,
        on_drop: Callable[[str], None] | None,
    ) -> None:
        self.bus = bus
        self.number = number
        self.filter = event_filter
        self.cursor = after
        self.address = address
        self.on_drop = on_drop
        self.closed_reason: str | None = None
        self.writing_since: float | None = None
        self.sent = 0

    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    def wait(self, timeout: float) -> bool:
        """Block until an event past the cursor exists, the stream closes, or ``timeout``."""
        bus = self.bus
        with bus._cond:
            if bus._ring.head > self.cursor or self.closed:
                return True
            bus._cond.wait(timeout)
            return bus._ring.head > self.cursor or self.closed

    def take(self, limit: int = 1000) -> list[Event]:
        """Events past the cursor that pass the filter; the cursor moves past them.

        Lock-free on purpose (a thousand readers contending for the bus lock cost more than the
        writes themselves): the ring writes a slot before moving ``head``, so every slot up to
        the ``head`` read here is complete, and a slot overwritten by a newer event (only
        possible for a client the reaper is about to drop) is detected by its ``seq``.

        Until :meth:`written` is called the batch counts as "being written", which is what the
        write timeout measures.
        """
        if self.closed:
            return []
        ring = self.bus._ring
        if self.cursor + 1 < self.bus.bounds()[1]:
            self.bus.drop(self, "slow")  # the ring moved past it: events would be skipped
            return []
        events = ring.after(self.cursor, limit)
        for offset, event in enumerate(events):
            if event is None or event.seq != self.cursor + 1 + offset:  # overwritten meanwhile
                events = events[:offset]
                break
        if not events:
            return []
        self.cursor = events[-1].seq
        chosen = (
            events if self.filter.is_everything else [e for e in events if self.filter.matches(e)]
        )
        if chosen:
            self.writing_since = self.bus._clock()
        return chosen

    def written(self, count: int) -> None:
        """The last batch (``count`` events) left the process."""
        self.writing_since = None
        self.sent += count

    def lag(self) -> int:
        """Events published but not yet taken by this client."""
        return self.bus._ring.head - self.cursor


class EventBus:
    """Numbered events, bounded history, per-client cursors; thread-safe."""

    def __init__(
        self,
        buffer_size: int = 10_000,
        client_queue: int | None = None,
        write_timeout: float = 10.0,
        epoch: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        client_queue = buffer_size if client_queue is None else client_queue
        if client_queue > buffer_size:
            raise ValueError("client_queue cannot exceed buffer_size")
        self.epoch = epoch or new_epoch()
        self.client_queue = client_queue
        self.write_timeout = write_timeout
        self._clock = clock
        self._cond = threading.Condition()
        self._ring = RingBuffer(buffer_size)
        self._clients: dict[int, ClientStream] = {}
        self._numbers = itertools.count(1)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_limit = 2 * buffer_size
        self._events_in = 0
        self._events_out = 0
        self._duplicates = 0
        self._dropped = 0
        self._clients_total = 0
        self._closed = False
        self.pubsub_delay = Window()
        """Seconds from Pub/Sub publish time to the bus (clock skew with Pub/Sub included)."""

    # -- writer side -------------------------------------------------------------------------

    def publish(self, incoming: Incoming) -> Event | None:
        """Number ``incoming`` and make it visible to every client; ``None`` if a duplicate."""
        with self._cond:
            if incoming.message_id:
                if incoming.message_id in self._seen:
                    self._duplicates += 1
                    return None
                self._seen[incoming.message_id] = None
                if len(self._seen) > self._seen_limit:
                    self._seen.popitem(last=False)
            event = Event.number(incoming, self.epoch, self._ring.head + 1)
            self._ring.append(event)
            self._events_in += 1
            if incoming.published_at is not None:
                self.pubsub_delay.add(max(0.0, event.at - incoming.published_at))
            self._cond.notify_all()
        return event

    # -- reader side -------------------------------------------------------------------------

    def bounds(self) -> tuple[int, int]:
        """``(head, oldest)`` of the ring, read consistently (under the lock)."""
        with self._cond:
            return self._ring.head, self._ring.oldest

    def plan(self, last_event_id: str | None) -> ReplayPlan:
        """The replay for ``last_event_id``, at most ``client_queue`` events long."""
        with self._cond:
            ring = self._ring
            oldest = max(ring.oldest, ring.head - self.client_queue + 1)
            return plan_replay(last_event_id, self.epoch, oldest, ring.head)

    def connect(
        self,
        event_filter: EventFilter,
        after: int | None = None,
        address: str = "",
        on_drop: Callable[[str], None] | None = None,
    ) -> ClientStream:
        """Register a client that will receive events after sequence ``after`` (default: now)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the event bus is shut down")
            start = self._ring.head if after is None else after
            client = ClientStream(self, next(self._numbers), event_filter, start, address, on_drop)
            self._clients[client.number] = client
            self._clients_total += 1
            return client

    def disconnect(self, client: ClientStream) -> None:
        with self._cond:
            if self._clients.pop(client.number, None) is not None:
                self._events_out += client.sent
            if client.closed_reason is None:
                client.closed_reason = "disconnected"

    def drop(self, client: ClientStream, reason: str) -> None:
        """Close ``client`` (too slow, or shutting down) and unblock its writer."""
        with self._cond:
            if client.closed_reason is not None and client.number not in self._clients:
                return
            client.closed_reason = reason
            if self._clients.pop(client.number, None) is not None:
                self._events_out += client.sent
            if (
                reason == "slow"
            ):  # not "shutdown", nor "expired" (the token's end, webapp/runtime.py)
                self._dropped += 1
            self._cond.notify_all()
        if client.on_drop is not None:
            with contextlib.suppress(OSError):
                client.on_drop(reason)

    def reap(self) -> list[ClientStream]:
        """Drop every client that is too far behind or stuck in a write; returns them."""
        now = self._clock()
        with self._cond:
            head = self._ring.head
            slow = [
                c
                for c in self._clients.values()
                if head - c.cursor > self.client_queue
                or (c.writing_since is not None and now - c.writing_since > self.write_timeout)
            ]
        for client in slow:
            self.drop(client, "slow")
        return slow

    def close(self) -> None:
        """Shut down: refuse new clients and end every stream (graceful shutdown)."""
        with self._cond:
            self._closed = True
            clients = list(self._clients.values())
        for client in clients:
            self.drop(client, "shutdown")

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> BusStats:
        with self._cond:
            ring = self._ring
            oldest = ring.get(ring.oldest)
            newest = ring.get(ring.head)
            return BusStats(
                epoch=self.epoch,
                events_in=self._events_in,
                events_out=self._events_out + sum(c.sent for c in self._clients.values()),
                duplicates=self._duplicates,
                clients=len(self._clients),
                clients_total=self._clients_total,
                dropped_clients=self._dropped,
                buffer_size=len(ring),
                buffer_capacity=ring.capacity,
                oldest_id=oldest.id if oldest else None,
                newest_id=newest.id if newest else None,
                oldest_at=oldest.at if oldest else None,
                newest_at=newest.at if newest else None,
            )
