"""The connector as a start/stop-able service: one client thread, one shared forwarder.

The asyncio client runs on its own thread (its own event loop) so the Flask/gunicorn threads
that serve the control API never block it.  ``start`` and ``stop`` are idempotent; ``stop``
returns only after the socket is closed and every frame already received is acknowledged by
Pub/Sub (or the flush timeout passed, which is logged with the frame ids).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from connector.forwarder import BatchPublisher, Forwarder, percentile
from connector.settings import Settings
from connector.status import ConnectorStatus, State
from connector.subscriptions import load_selections, plan_subscriptions
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

            publisher = IngressPublisher(settings.project, settings.ingress_topic)
        self.publisher = publisher
        self.forwarder = Forwarder(
            publisher,
            capacity=settings.buffer_size,
            capture_path=settings.capture_path,
            workers=settings.publish_workers,
            max_batch=settings.batch_max_messages,
        )
        self.status = ConnectorStatus()
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
            ready = threading.Event()

            def run() -> None:
                loop = asyncio.new_event_loop()
                self._loop = loop
                ready.set()
                try:
                    loop.run_until_complete(client.run())
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
        """Close the socket and flush; ``False`` when it was not running.  Blocks until done."""
        timeout = self.settings.flush_timeout_seconds if timeout is None else timeout
        with self._lock:
            thread, loop, client = self._thread, self._loop, self._client
            was_running = thread is not None and thread.is_alive()
            if was_running and thread is not None and loop is not None:
                self.status.update(state=State.STOPPING)
                loop.call_soon_threadsafe(client.request_stop)
                thread.join(timeout + 5)
            deadline = time.monotonic() + timeout
            flushed = self.forwarder.flush(max(0.0, deadline - time.monotonic()))
            if self.status.state not in (State.FAILED, State.IDLE):
                self.status.update(state=State.STOPPED, connected_since=None)
            if not flushed:
                log.error("stop: %d frame(s) still unacknowledged", self.forwarder.pending)
            return was_running

    def shutdown(self) -> None:
        """Process exit: stop, flush, release the publisher.  Safe to call twice."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self.forwarder.close(self.settings.flush_timeout_seconds)
        close = getattr(self.publisher, "close", None)
        if close is not None:
            close()
        log.info("connector shut down")

    def test_publish(self) -> str:
        """Publish a marked test message to the ingress topic; returns the message id."""
        attrs = ingress_attributes(
            frame_id=new_id(),
            received_at=datetime.now(UTC),
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
            buffer_capacity=self.forwarder.capacity,
            publish_latency_ms={
                "samples": len(latencies),
                "p50": round(percentile(latencies, 50) * 1000, 2),
                "p99": round(percentile(latencies, 99) * 1000, 2),
            },
            ingress_topic=self.settings.ingress_topic,
            tote_url=self.settings.safe_url,
        )
        return out
