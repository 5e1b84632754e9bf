"""The in-process event bus: one writer (the Pub/Sub shell), many readers (SSE streams).

Order: events are **released** in event-id order (ids come from the data, see
``webapp/events.py``).  Each message waits in a heap until it is due, and the smallest key
leaves only when it is due, so messages that arrive out of order are released in the same order
on every instance.  How long a message waits is :func:`webapp.reorder.hold_seconds`: at most
``reorder_delay`` after its arrival, less by however much slower than the fastest recent message
it travelled from Pub/Sub (its publish time), so the hold ends about ``reorder_delay`` after the
message could first have arrived.  A message later than that is released at once and counted as
``late``.  While the instance warms up (replaying its subscription window
after a start) nothing is released; :meth:`EventBus.finish_warmup` then releases the window in
order, so a fresh instance holds the same history as one that has been up for hours.

Fan-out costs O(1) per event however many clients are connected: an event is appended once to
the shared :class:`~webapp.ring.RingBuffer`, and every client reads it through its own cursor.
A client's queue is therefore the window between its cursor and the ring's head, bounded by
``client_queue``.  A client whose window overflows, or whose last write has been stuck for
``write_timeout`` seconds, is dropped by :meth:`EventBus.reap` (run periodically by the app):
its ``on_drop`` callback shuts its socket down, which unblocks its writer thread, so a slow
client never holds up the bus or the other clients.

Every released event also updates the reference registry (names) and the board state
(``/state``), under the same lock, so a ``/state`` snapshot and its ``last_event_id`` agree.
The bus remembers recent event ids, so a redelivered or republished message (at-least-once
delivery) is acknowledged but not sent twice.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from webapp.events import (
    ORIGIN_FRAME,
    REFERENCE_STREAM,
    Event,
    EventKey,
    Incoming,
    make_event,
    new_epoch,
)
from webapp.filters import EventFilter
from webapp.percentiles import Window
from webapp.reference import ReferenceRegistry
from webapp.reorder import TransitBaseline, hold_seconds
from webapp.replay import ReplayPlan, plan_replay
from webapp.ring import RingBuffer
from webapp.state import BoardState, Entry

__all__ = ["BusStats", "ClientStream", "EventBus"]


@dataclass(frozen=True, slots=True)
class BusStats:
    """A consistent snapshot of the counters shown by ``/status``."""

    epoch: str
    events_in: int
    late: int
    unchanged_reference: int
    pending: int
    warming: bool
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
        self.floor: EventKey | None = None
        """In-order events with a key at or before this were seen elsewhere: skip them."""

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
        floor = self.floor
        if floor is not None:
            self.passed(events[-1])
            events = [e for e in events if e.late or e.key > floor]
        chosen = (
            events if self.filter.is_everything else [e for e in events if self.filter.matches(e)]
        )
        if chosen:
            self.writing_since = self.bus._clock()
        return chosen

    def passed(self, event: Event | None) -> None:
        """The cursor moved past ``event``: once past the floor, in-order keys only grow."""
        if (
            self.floor is not None
            and event is not None
            and not event.late
            and event.key > self.floor
        ):
            self.floor = None

    def written(self, count: int) -> None:
        """The last batch (``count`` events) left the process."""
        self.writing_since = None
        self.sent += count

    def lag(self) -> int:
        """Events published but not yet taken by this client."""
        return self.bus._ring.head - self.cursor


class EventBus:
    """Ordered release, bounded history, per-client cursors, the present; thread-safe."""

    def __init__(
        self,
        buffer_size: int = 10_000,
        client_queue: int | None = None,
        write_timeout: float = 10.0,
        epoch: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        reorder_delay: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
        warming: bool = False,
        history_from_ms: int | None = None,
    ) -> None:
        client_queue = buffer_size if client_queue is None else client_queue
        if client_queue > buffer_size:
            raise ValueError("client_queue cannot exceed buffer_size")
        self.epoch = epoch or new_epoch()
        """This instance's name (``/status``); event ids do not depend on it."""
        self.client_queue = client_queue
        self.write_timeout = write_timeout
        self.reorder_delay = reorder_delay
        self._clock = clock
        self._wall_clock = wall_clock
        """Compared with Pub/Sub publish times (transit); ``clock`` times the holds."""
        self._transits = TransitBaseline()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._wake = threading.Condition(self._lock)
        self._ring = RingBuffer(buffer_size)
        self._positions: dict[str, int] = {}
        self._pending: list[tuple[EventKey, int, float, Incoming]] = []
        self._arrivals = itertools.count()
        self._warming = warming
        self._released_max: EventKey | None = None
        self._evicted_max: EventKey | None = None
        self.history_from_ms = (
            int(time.time() * 1000) if history_from_ms is None else history_from_ms
        )
        """This instance has every event from this time on (its start, or its replay window)."""
        self.reference = ReferenceRegistry()
        self.state = BoardState(self.reference.context)
        self._clients: dict[int, ClientStream] = {}
        self._numbers = itertools.count(1)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_limit = 2 * buffer_size
        self._events_in = 0
        self._events_out = 0
        self._duplicates = 0
        self._late = 0
        self._unchanged_reference = 0
        self._dropped = 0
        self._clients_total = 0
        self._closed = False
        self.pubsub_delay = Window()
        """Seconds from Pub/Sub publish time to the bus (clock skew with Pub/Sub included)."""
        self.holds = Window()
        """Seconds each message was meant to be held for ordering (:func:`webapp.reorder.hold_seconds`)."""

    # -- writer side -------------------------------------------------------------------------

    def publish(self, incoming: Incoming) -> Event | None:
        """Accept ``incoming``; returns its event if released at once, ``None`` if held/duplicate."""
        with self._lock:
            event_id = incoming.id
            if event_id in self._seen:
                self._duplicates += 1
                return None
            self._seen[event_id] = None
            if len(self._seen) > self._seen_limit:
                self._seen.popitem(last=False)
            hold = self._hold_for(incoming)
            if hold <= 0 and not self._warming and not self._pending:
                return self._release(incoming)
            due = self._clock() + hold
            heapq.heappush(self._pending, (incoming.key, next(self._arrivals), due, incoming))
            self._wake.notify()
            return None

    def _hold_for(self, incoming: Incoming) -> float:
        """Seconds to hold ``incoming`` (see :mod:`webapp.reorder`); records its transit.

        Called under the lock (the baseline is not thread-safe on its own).
        """
        if self.reorder_delay <= 0:
            return 0.0
        transit = None
        if incoming.published_at is not None:
            transit = self._wall_clock() - incoming.published_at
            self._transits.add(transit)
        hold = hold_seconds(self.reorder_delay, transit, self._transits.value)
        self.holds.add(hold)
        return hold

    def release_due(self, now: float | None = None) -> int:
        """Release, in key order, every held message whose turn has come; returns how many."""
        with self._lock:
            if self._warming:
                return 0
            now = self._clock() if now is None else now
            released = 0
            pending = self._pending
            while pending and pending[0][2] <= now:
                self._release(heapq.heappop(pending)[3])
                released += 1
            return released

    def run_releaser(self, stop: threading.Event) -> None:
        """Release held messages as they fall due, until ``stop`` (the app runs it in a thread)."""
        with self._lock:
            while not stop.is_set():
                self.release_due()
                if self._pending and not self._warming:
                    timeout = max(0.001, self._pending[0][2] - self._clock())
                else:
                    timeout = 0.25
                self._wake.wait(min(timeout, 0.25))

    @property
    def warming(self) -> bool:
        return self._warming

    def finish_warmup(self, history_from_ms: int | None = None) -> int:
        """End the warm-up: release everything held, in key order; returns how many.

        Reference data from before the history's start (the reference topic is replayed
        further back) goes into the registry and ``/state`` only, not into the stream's
        history, which holds every event from ``history_from_ms`` on and nothing older.
        """
        with self._lock:
            self._warming = False
            if history_from_ms is not None:
                self.history_from_ms = history_from_ms
            pending = sorted(self._pending)  # oldest first; a sorted list is a heap
            self._pending = [p for p in pending if not self._absorbed(p[3])]
            released = self.release_due(math.inf)
            self._wake.notify()
            return released

    def _absorbed(self, incoming: Incoming) -> bool:
        """Absorb old reference data (see :meth:`finish_warmup`); ``True`` if it was."""
        if incoming.stream != REFERENCE_STREAM or incoming.key.ms >= self.history_from_ms:
            return False
        self._absorb(incoming)
        return True

    def _absorb(self, incoming: Incoming) -> None:
        values = incoming.message.get("values") or {}
        entity_id = str(incoming.message.get("id"))
        if self.reference.apply(incoming.message_type, entity_id, incoming.as_of_ms, values):
            event = make_event(incoming, 0, self.reference.context(incoming.keys))
            self.state.apply(incoming, event)
            self.state.reference_changed(incoming.message_type, entity_id)

    def _release(self, incoming: Incoming) -> Event | None:
        ring = self._ring
        reference_kept = False
        if incoming.stream == REFERENCE_STREAM:
            values = incoming.message.get("values") or {}
            entity_id = str(incoming.message.get("id"))
            current = self.reference.get(incoming.message_type, entity_id)
            if (
                current is not None
                and current.values == values
                and current.as_of_ms <= incoming.as_of_ms
            ):
                # Every sweep republishes every name: only a change is news for the stream.
                self.reference.apply(incoming.message_type, entity_id, incoming.as_of_ms, values)
                self._unchanged_reference += 1
                return None
            reference_kept = self.reference.apply(
                incoming.message_type, entity_id, incoming.as_of_ms, values
            )
        late = self._released_max is not None and incoming.key < self._released_max
        if late:
            self._late += 1
        else:
            self._released_max = incoming.key
        event = make_event(
            incoming, ring.head + 1, self.reference.context(incoming.keys), late=late
        )
        if len(ring) == ring.capacity:
            evicted = ring.get(ring.oldest)
            if evicted is not None:
                self._positions.pop(evicted.id, None)
                if not evicted.late and (
                    self._evicted_max is None or evicted.key > self._evicted_max
                ):
                    self._evicted_max = evicted.key
        ring.append(event)
        self._positions[event.id] = event.seq
        self.state.apply(incoming, event)
        if reference_kept:
            self.state.reference_changed(incoming.message_type, str(incoming.message.get("id")))
        self._events_in += 1
        if incoming.published_at is not None:
            self.pubsub_delay.add(max(0.0, event.at - incoming.published_at))
        self._cond.notify_all()
        return event

    # -- reader side -------------------------------------------------------------------------

    def bounds(self) -> tuple[int, int]:
        """``(head, oldest)`` of the ring, read consistently (under the lock)."""
        with self._lock:
            return self._ring.head, self._ring.oldest

    def last_event_id(self) -> str | None:
        """The id of the newest in-order event released (where a client resumes from)."""
        with self._lock:
            return None if self._released_max is None else str(self._released_max)

    def snapshot_body(
        self, matches: Callable[[Event], bool] | None = None, *, private: bool = False
    ) -> tuple[bytes, int, str]:
        """``/state``'s items (joined JSON), their count and the resume id, consistent."""
        with self._lock:
            body, count = self.state.joined(matches, private=private)
            return body, count, self._resume_id()

    def _resume_id(self) -> str:
        last = self._released_max
        if last is None:
            last = EventKey.origin(self.history_from_ms)
        return str(last)

    def snapshot(
        self, matches: Callable[[Event], bool] | None = None, *, private: bool = False
    ) -> tuple[list[Entry], str]:
        """The board state and the id to resume the stream from, consistent with each other.

        With nothing released yet the resume id is the smallest id at this instance's history
        start, so a client following it gets every event released after the snapshot.
        """
        with self._lock:
            return self.state.entries(matches, private=private), self._resume_id()

    def _at_or_before(self, key: EventKey, lowest: int) -> int | None:
        ring = self._ring
        seq = ring.head
        while seq >= lowest:
            event = ring.get(seq)
            if event is not None and not event.late and event.key <= key:
                return seq
            seq -= 1
        return None

    def plan(self, last_event_id: str | None) -> ReplayPlan:
        """The replay for ``last_event_id``, at most ``client_queue`` events long."""
        with self._lock:
            ring = self._ring
            oldest = max(ring.oldest, ring.head - self.client_queue + 1)
            key = EventKey.parse(last_event_id) if last_event_id else None
            found = self._positions.get(last_event_id) if last_event_id else None
            at_or_before = None
            covered = False
            if key is not None and found is None:
                if key.frame == ORIGIN_FRAME:
                    covered = key.ms >= self.history_from_ms and self._evicted_max is None
                else:
                    at_or_before = self._at_or_before(key, ring.oldest)
                    covered = key.ms >= self.history_from_ms and (
                        self._evicted_max is None or key >= self._evicted_max
                    )
            oldest_event = ring.get(oldest)
            return plan_replay(
                last_event_id,
                found=found,
                at_or_before=at_or_before,
                oldest=oldest,
                head=ring.head,
                covered=covered,
                oldest_id=oldest_event.id if oldest_event else None,
            )

    def connect(
        self,
        event_filter: EventFilter,
        after: int | None = None,
        address: str = "",
        on_drop: Callable[[str], None] | None = None,
        floor: EventKey | None = None,
    ) -> ClientStream:
        """Register a client that will receive events after position ``after`` (default: now)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the event bus is shut down")
            start = self._ring.head if after is None else after
            client = ClientStream(self, next(self._numbers), event_filter, start, address, on_drop)
            client.floor = floor
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

    def wake(self) -> None:
        """Wake the releaser (shutdown)."""
        with self._lock:
            self._wake.notify_all()

    def stats(self) -> BusStats:
        with self._cond:
            ring = self._ring
            oldest = ring.get(ring.oldest)
            newest = ring.get(ring.head)
            return BusStats(
                epoch=self.epoch,
                events_in=self._events_in,
                late=self._late,
                unchanged_reference=self._unchanged_reference,
                pending=len(self._pending),
                warming=self._warming,
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
