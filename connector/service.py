"""The connector as a start/stop-able service: one client thread, one shared forwarder.

The asyncio client runs on its own thread (its own event loop) so the Flask/gunicorn threads
that serve the control API never block it.  ``start`` and ``stop`` are idempotent; ``stop``
returns once the socket is closed and every frame already received is acknowledged by Pub/Sub,
or when its deadline (``FLUSH_TIMEOUT_SECONDS``, below Cloud Run's 10 s SIGTERM grace) passes:
frames still unacknowledged then go to the durable dead-letter record and a counted log line.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from typing import Any

from connector.forwarder import BatchPublisher, Forwarder, percentile
from connector.receive_clock import RECEIVE_CLOCK
from connector.settings import Settings
from connector.status import ConnectorStatus, State
from connector.subscriptions import load_selections, plan_subscriptions
from connector.sweeps import Sweeps, run_alongside
from contract.ingress import ATTR_TEST, ingress_attributes, new_id

__all__ = ["ConnectorService"]

log = logging.getLogger(__name__)


class ConnectorService:
    """Owns the forwarder (for the process lifetime) and the client thread (per start)."""

    def __init__(self, settings: Settings, publisher: BatchPublisher | None = None) -> None:
        self.settings = settings
        self.subscriptions = plan_subscriptions(
            settings.subscriptions, load_selections(settings.selections_file)
        )
        if publisher is None:
            from connector.pubsub import IngressPublisher

            publisher = IngressPublisher(
                settings.project, settings.ingress_topic, timeout=settings.publish_timeout_seconds
            )
        self.publisher = publisher
        self.forwarder = Forwarder(
            publisher,
            capacity=settings.buffer_size,
            capture_path=settings.capture_path,
            workers=settings.publish_workers,
            max_batch=settings.batch_max_messages,
            dead_letter_path=settings.dead_letter_path,
            log_dead_letters=settings.dead_letter_log_frames,
        )
        self.status = ConnectorStatus()
        self.sweeps = (
            Sweeps(settings.sweep_config(), self.forwarder) if settings.graphql_url else None
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._closed = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start the client; ``False`` when it was already running (nothing changes)."""
        from connector.client import ToteClient

        with self._lock:
            if self._closed:
                raise RuntimeError("connector is shutting down")
            if self.running:
                return False
            self.status.update(state=State.CONNECTING, fatal=None)
            client = ToteClient(self.settings, self.subscriptions, self.forwarder, self.status)
            if self.sweeps is not None:  # reconcile after every (re)subscribe
                client.on_subscribed = lambda s=self.sweeps: s.trigger("subscribed")
            ready = threading.Event()

            def run() -> None:
                loop = asyncio.new_event_loop()
                self._loop = loop
                ready.set()
                try:
                    loop.run_until_complete(run_alongside(client.run(), self.sweeps))
                except Exception:
                    log.exception("connector client crashed")
                    self.status.update(state=State.FAILED, fatal="client crashed (see logs)")
                finally:
                    loop.close()

            self._client = client
            self._thread = threading.Thread(target=run, name="tote-client", daemon=True)
            self._thread.start()
            ready.wait(5)
            log.info("connector started", extra={"json_fields": {"url": self.settings.safe_url}})
            return True

    def stop(self, timeout: float | None = None) -> bool:
        """Close the socket and flush; ``False`` when it was not running.

        Returns within ``timeout`` (default ``FLUSH_TIMEOUT_SECONDS``) plus a moment: what Pub/Sub
        has not acknowledged by then is moved to the dead-letter record (never silently kept or
        dropped), so a stop during a Pub/Sub outage ends on time and loses nothing.
        """
        budget = self.settings.flush_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + budget
        if not self._lock.acquire(timeout=budget):
            log.error("stop: another start/stop still holds the service after %.1fs", budget)
            self._evict_after_deadline(budget)
            return False
        try:
            thread, loop, client = self._thread, self._loop, self._client
            was_running = thread is not None and thread.is_alive()
            if was_running and thread is not None and loop is not None:
                self.status.update(state=State.STOPPING)
                loop.call_soon_threadsafe(client.request_stop)
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.error("stop: the websocket did not close within %.1fs", budget)
            flushed = self.forwarder.flush(max(0.0, deadline - time.monotonic()))
            if self.status.state not in (State.FAILED, State.IDLE):
                self.status.update(state=State.STOPPED, connected_since=None)
            if not flushed:
                self._evict_after_deadline(budget)
            return was_running
        finally:
            self._lock.release()

    def _evict_after_deadline(self, budget: float) -> None:
        evicted = self.forwarder.evict("not acknowledged by Pub/Sub before the stop deadline")
        if evicted:
            log.error(
                "stop: %d frame(s) not acknowledged by Pub/Sub within %.1fs, "
                "written to the dead-letter record %s",
                evicted,
                budget,
                self.forwarder.dead_letters.path,
                extra={"json_fields": {"unpublished": evicted, "deadline_s": budget}},
            )

    def shutdown(self, timeout: float | None = None) -> None:
        """Process exit: stop, flush, release the publisher, all within ``timeout``.

        Safe to call twice (the second call returns at once).
        """
        if self._closed:
            return
        self._closed = True
        budget = self.settings.flush_timeout_seconds if timeout is None else timeout
        started = time.monotonic()
        self.stop(budget)
        self.forwarder.close(max(0.0, budget - (time.monotonic() - started)))
        close = getattr(self.publisher, "close", None)
        if close is not None:
            close()
        log.info(
            "connector shut down in %.2fs",
            time.monotonic() - started,
            extra={"json_fields": {"dead_lettered": self.forwarder.snapshot().dead_lettered}},
        )

    def reconcile(self) -> bool:
        """Ask for a sweep now (``POST /reconcile``); ``False`` when the client is not running.
        Raises ``RuntimeError`` when no ``TOTE_GRAPHQL_URL`` is configured."""
        if self.sweeps is None:
            raise RuntimeError("sweeps are disabled: TOTE_GRAPHQL_URL is not set")
        return self.running and self.sweeps.request("manual")

    def test_publish(self) -> str:
        """Publish a marked test message to the ingress topic; returns the message id."""
        attrs = ingress_attributes(
            frame_id=new_id(),
            received_at=RECEIVE_CLOCK.now(),
            connection_id="test-pubsub",
            protocol="none",
        )
        attrs[ATTR_TEST] = "true"
        data = (
            b'{"type":"connector_test","payload":{"message":"tote-realtime connector self-test"}}'
        )
        return self.publisher.publish_batch([(data, attrs)])[0]

    def status_dict(self, latency_window: int = 10_000) -> dict[str, Any]:
        """``/status``; latency percentiles over the last ``latency_window`` acknowledged frames."""
        out = self.status.to_dict()
        stats = self.forwarder.snapshot()
        recent = self.forwarder.latencies
        latencies = list(itertools.islice(reversed(recent), min(latency_window, len(recent))))
        out.update(
            running=self.running,
            published=stats.published,
            publish_failures=stats.publish_failures,
            buffered=stats.buffered,
            retrying=stats.retrying,
            refused=stats.refused,
            dead_lettered=stats.dead_lettered,
            dead_letter_path=self.settings.dead_letter_path,
            buffer_capacity=self.forwarder.capacity,
            publish_latency_ms={
                "samples": len(latencies),
                "p50": round(percentile(latencies, 50) * 1000, 2),
                "p99": round(percentile(latencies, 99) * 1000, 2),
            },
            ingress_topic=self.settings.ingress_topic,
            tote_url=self.settings.safe_url,
            graphql_url=self.settings.safe_graphql_url or None,
            sweeps=self.sweeps.status() if self.sweeps else {"enabled": False},
            receive_clock={
                "bumped": RECEIVE_CLOCK.bumped,
                "max_lead_ms": RECEIVE_CLOCK.max_lead_ms,
            },
        )
        return out
