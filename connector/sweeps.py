"""Reconciliation sweeps: ask Tote's query API for the whole racing day and forward each page raw.

Tote never replays what a subscriber missed (a silent socket, a dropped connection, a late start
or a deploy all lose messages), and its guide says to reconcile by query.  A sweep asks the two
paginated root fields of :mod:`contract.queries` (``products(date)`` and ``events(since,
until)``) for the current UK racing day and puts every response page, byte for byte, on the
ingress topic through the connector's forwarder with
:func:`contract.ingress.query_page_attributes`; the pipeline turns pages into typed events and
reference rows, and its semantic dedup drops what did not change.  The connector stays thin: it
reads nothing of a page but ``pageInfo``.

When sweeps run (:class:`Sweeps`): once at start (after ``start_grace`` seconds unless the first
subscribe came sooner), after every successful (re)subscribe, every ``period`` seconds
(jittered) during racing hours, and on ``POST /reconcile``.  Triggers that arrive during a sweep
coalesce into one more sweep right after it, so a subscribe is always followed by a sweep that
started after it (no gap between what the socket missed and what the query saw).

A sweep runs as its own task on the client's event loop; whatever goes wrong in it is contained,
counted and shown in ``/status`` and never touches the websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from connector.forwarder import Frame
from connector.query_client import QueryClient, QueryError
from connector.window import RacingWindow, in_window, parse_window
from contract.ingress import MAX_FRAME_BYTES, format_timestamp, new_id, query_page_attributes
from contract.queries import OPERATIONS, RACING_TZ, page_info, racing_day, variables

__all__ = [
    "MAX_PAGES",
    "PageSink",
    "SweepConfig",
    "SweepRecord",
    "Sweeps",
    "format_hours",
    "in_racing_hours",
    "parse_hours",
    "periodic_delay",
    "run_alongside",
]

log = logging.getLogger(__name__)

MAX_PAGES = 2000
"""Per operation and sweep: a server whose cursors never end cannot keep a sweep running."""

MAX_REQUEST_IDS = 50
"""``/status`` lists at most this many request ids of the last sweep (the newest)."""

T = TypeVar("T")


# -- decisions (pure) ------------------------------------------------------------------------------


def parse_hours(text: str) -> RacingWindow:
    """``"06:00-23:00"`` (end may be ``24:00``; a window may wrap past midnight) as a Europe/London
    wall-clock window, parsed like ``AUTOSTART_WINDOW`` (``connector.window``); ``ValueError``
    says why it is not one."""
    return parse_window(text, RACING_TZ.key)


def in_racing_hours(now: datetime, hours: RacingWindow) -> bool:
    """Whether ``now`` (aware) falls inside ``hours``."""
    return in_window(now, hours)


def format_hours(hours: RacingWindow) -> str:
    """``RacingWindow`` → ``"06:00-23:00"`` (``24:00`` for an open end)."""
    end = hours.end.strftime("%H:%M") if hours.end is not None else "24:00"
    return f"{hours.start.strftime('%H:%M')}-{end}"


def periodic_delay(
    period: float, jitter: float, draw: Callable[[], float] = random.random
) -> float:
    """``period`` ± ``jitter * period`` (uniform), so replicas and restarts do not sweep in
    step."""
    return max(0.0, period * (1 + jitter * (2 * draw() - 1)))


# -- what a sweep did --------------------------------------------------------------------------------


@dataclass
class SweepRecord:
    """One sweep, as ``/status`` shows it."""

    sweep_id: str
    trigger: str
    day: str
    started_at: datetime
    finished_at: datetime | None = None
    pages: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    refused: int = 0
    _t0: float = field(default_factory=time.monotonic, repr=False)
    duration: float | None = None

    def finish(self) -> None:
        self.finished_at = datetime.now(UTC)
        self.duration = time.monotonic() - self._t0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "trigger": self.trigger,
            "racing_day": self.day,
            "started_at": format_timestamp(self.started_at),
            "finished_at": format_timestamp(self.finished_at) if self.finished_at else None,
            "duration_s": round(self.duration, 3) if self.duration is not None else None,
            "pages": {op: self.pages.get(op, 0) for op in OPERATIONS},
            "pages_total": sum(self.pages.values()),
            "bytes": self.bytes,
            "errors": list(self.errors),
            "refused_pages": self.refused,
            "request_ids": self.request_ids[-MAX_REQUEST_IDS:],
        }


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep needs from the connector's settings (see ``connector.settings``)."""

    url: str
    authorization: str
    partner_id: str
    page_size: int = 50
    period: float = 300.0
    jitter: float = 0.1
    hours: RacingWindow = field(default_factory=lambda: parse_hours("06:00-23:00"))
    timeout: float = 10.0
    retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    concurrency: int = 2
    start_grace: float = 10.0
    backpressure: float = 5.0
    user_agent: str = "tote-realtime-connector"


# -- the shell ---------------------------------------------------------------------------------------


class PageSink(Protocol):
    """What a sweep needs of the forwarder (:class:`connector.forwarder.Forwarder` is one)."""

    def offer(self, frame: Frame) -> bool: ...

    def refuse(self, frame: Frame, reason: str) -> None: ...


class Sweeps:
    """Schedules and runs sweeps on the client's event loop; counters for ``/status``.

    One instance per connector process (its ``instance_id`` is the pages' ``connection_id``);
    :meth:`run` runs while the client runs.  :meth:`request` is the thread-safe trigger for
    ``POST /reconcile``.
    """

    def __init__(
        self,
        config: SweepConfig,
        forwarder: PageSink,
        *,
        client_factory: Callable[[SweepConfig], QueryClient] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.forwarder = forwarder
        self.instance_id = new_id()
        self._client_factory = client_factory or _default_client
        self._now = now
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._reasons: list[str] = []
        self._client: QueryClient | None = None
        self.current: SweepRecord | None = None
        self.last: SweepRecord | None = None
        self.sweeps = 0
        self.failed = 0
        self.crashed = 0
        self.pages = 0
        self.bytes = 0
        self.triggers: Counter[str] = Counter()
        self.next_periodic_at: datetime | None = None
        self._finished = threading.Condition(self._lock)

    # -- triggers ---------------------------------------------------------------------------------

    def trigger(self, reason: str) -> None:
        """Ask for a sweep (event-loop thread): now, or right after the one in progress."""
        with self._lock:
            self.triggers[reason] += 1
            if reason not in self._reasons:
                self._reasons.append(reason)
        if self._wake is not None:
            self._wake.set()

    def request(self, reason: str = "manual") -> bool:
        """Thread-safe :meth:`trigger`; ``False`` when no client loop is running."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(self.trigger, reason)
        except RuntimeError:  # the loop closed in between
            return False
        return True

    def wait_for_sweeps(self, count: int, timeout: float) -> bool:
        """Block (any thread) until ``count`` sweeps have finished in total; for tests/tools."""
        deadline = time.monotonic() + timeout
        with self._finished:
            while self.sweeps < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._finished.wait(remaining)
        return True

    # -- scheduling -------------------------------------------------------------------------------

    async def run(self) -> None:
        """The scheduler: runs until cancelled (when the client stops)."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._loop = loop
        self._client = self._client_factory(self.config)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.start_grace)
            if not self._reasons:
                self.trigger("start")
            deadline = self._arm(loop)
            while True:
                if not self._reasons:
                    timeout = None if deadline is None else max(0.0, deadline - loop.time())
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout)
                    except TimeoutError:
                        if in_racing_hours(self._now(), self.config.hours):
                            self.trigger("periodic")
                        else:
                            deadline = self._arm(loop)
                        continue
                self._wake.clear()
                with self._lock:
                    reasons, self._reasons = self._reasons, []
                if reasons:
                    await self.sweep_contained("+".join(reasons))
                    deadline = self._arm(loop)
        finally:
            self._loop = None
            self._wake = None
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> float | None:
        if self.config.period <= 0:
            self.next_periodic_at = None
            return None
        delay = periodic_delay(self.config.period, self.config.jitter)
        self.next_periodic_at = datetime.fromtimestamp(time.time() + delay, UTC)
        return loop.time() + delay

    # -- one sweep --------------------------------------------------------------------------------

    async def sweep_contained(self, trigger: str) -> SweepRecord | None:
        """:meth:`sweep`, with any unexpected exception logged and counted (never raised)."""
        try:
            return await self.sweep(trigger)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep crashed (trigger %s)", trigger)
            with self._lock:
                self.crashed += 1
                self.failed += 1
            return None

    async def sweep(self, trigger: str) -> SweepRecord:
        """Both operations for today's racing day, concurrently, each page forwarded raw."""
        client = self._client or self._client_factory(self.config)
        own_client = self._client is None
        now = self._now()
        day = racing_day(now)
        record = SweepRecord(new_id(), trigger, day.isoformat(), now)
        with self._lock:
            self.current = record
        log.info(
            "sweep %s started (trigger %s, racing day %s)",
            record.sweep_id,
            trigger,
            record.day,
            extra={"json_fields": {"sweep_id": record.sweep_id, "trigger": trigger}},
        )
        limit = asyncio.Semaphore(max(1, self.config.concurrency))
        try:
            await asyncio.gather(*(self._operation(client, op, record, limit) for op in OPERATIONS))
        except asyncio.CancelledError:
            record.errors.append("cancelled: the connector stopped during the sweep")
            raise
        finally:
            record.finish()
            if own_client:
                await client.aclose()
            with self._finished:
                self.current = None
                self.last = record
                self.sweeps += 1
                self.failed += bool(record.errors)
                self.pages += sum(record.pages.values())
                self.bytes += record.bytes
                self._finished.notify_all()
        log.log(
            logging.WARNING if record.errors else logging.INFO,
            "sweep %s finished: %d page(s), %d bytes in %.2fs, %d error(s)",
            record.sweep_id,
            sum(record.pages.values()),
            record.bytes,
            record.duration or 0.0,
            len(record.errors),
            extra={"json_fields": record.to_dict()},
        )
        return record

    async def _operation(
        self, client: QueryClient, operation: str, record: SweepRecord, limit: asyncio.Semaphore
    ) -> None:
        day = datetime.fromisoformat(record.day).date()
        after: str | None = None
        for page in range(1, MAX_PAGES + 1):
            try:
                async with limit:
                    resp = await client.post(
                        OPERATIONS[operation],
                        variables(operation, day, self.config.page_size, after),
                        operation=operation,
                        page=page,
                    )
            except QueryError as exc:
                record.errors.append(str(exc))
                if exc.request_id:
                    record.request_ids.append(exc.request_id)
                return
            record.request_ids.append(resp.request_id)
            record.pages[operation] += 1
            record.bytes += len(resp.body)
            if len(resp.body) > MAX_FRAME_BYTES:  # forwarded all the same: dead-lettered, kept
                record.errors.append(
                    f"{operation} page {page}: {len(resp.body)} bytes exceeds the pipeline's "
                    f"{MAX_FRAME_BYTES}; lower SWEEP_PAGE_SIZE (now {self.config.page_size})"
                )
            attrs = query_page_attributes(
                frame_id=new_id(),
                received_at=resp.received_at,
                connection_id=self.instance_id,
                operation=operation,
                sweep_id=record.sweep_id,
                page=page,
                request_started_at=resp.started_at,
                request_id=resp.request_id,
            )
            if not await self._forward(Frame(resp.body, attrs)):
                record.refused += 1
                record.errors.append(f"{operation} page {page}: ingress buffer full, page refused")
            try:
                body = json.loads(resp.body)
            except ValueError:
                record.errors.append(f"{operation} page {page}: response is not JSON")
                return
            if isinstance(body, dict) and body.get("errors"):
                record.errors.append(
                    f"{operation} page {page}: GraphQL errors: {str(body['errors'])[:200]}"
                )
            has_next, cursor = page_info(body, operation)
            if not has_next:
                return
            if cursor == after:
                record.errors.append(f"{operation} page {page}: cursor did not advance")
                return
            after = cursor
        record.errors.append(f"{operation}: stopped after {MAX_PAGES} pages")

    async def _forward(self, frame: Frame) -> bool:
        """Offer a page to the forwarder, waiting up to ``backpressure`` seconds when it is full;
        a page that still does not fit is refused (counted and logged by the forwarder)."""
        deadline = time.monotonic() + self.config.backpressure
        while not self.forwarder.offer(frame):
            if time.monotonic() >= deadline:
                self.forwarder.refuse(frame, "ingress buffer full: query page dropped")
                return False
            await asyncio.sleep(0.01)
        return True

    # -- status -----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The ``sweeps`` section of ``/status``."""
        with self._lock:
            current, last = self.current, self.last
            return {
                "enabled": True,
                "in_progress": current.to_dict() if current else None,
                "last": last.to_dict() if last else None,
                "sweeps": self.sweeps,
                "failed": self.failed,
                "crashed": self.crashed,
                "pages": self.pages,
                "bytes": self.bytes,
                "triggers": dict(self.triggers),
                "next_periodic_at": format_timestamp(self.next_periodic_at)
                if self.next_periodic_at
                else None,
                "period_s": self.config.period,
                "racing_hours": format_hours(self.config.hours),
                "page_size": self.config.page_size,
            }


def _default_client(config: SweepConfig) -> QueryClient:
    return QueryClient(
        config.url,
        config.authorization,
        config.partner_id,
        user_agent=config.user_agent,
        timeout=config.timeout,
        retries=config.retries,
        backoff_base=config.backoff_base,
        backoff_cap=config.backoff_cap,
    )


async def run_alongside(main: Awaitable[T], sweeps: Sweeps | None) -> T:
    """Await ``main`` (the websocket client) with the sweep scheduler beside it; the scheduler
    is cancelled when ``main`` ends, whatever way it ends."""
    if sweeps is None:
        return await main
    task = asyncio.create_task(sweeps.run(), name="tote-sweeps")
    try:
        return await main
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
