"""Everything one app instance owns at run time, and its orderly start and shutdown.

Shutdown order matters: stop taking Pub/Sub messages first (in-flight callbacks finish and are
acknowledged into the bus), then end every open stream with a final flush (``bus.close``), then
delete this instance's subscriptions.  ``shutdown`` is idempotent; gunicorn's SIGTERM hook,
``atexit`` and tests may all call it.
"""

from __future__ import annotations

import logging
import threading
import time

from webapp.bus import ClientStream, EventBus
from webapp.config import Config
from webapp.dispatcher import Dispatcher
from webapp.limits import StreamLimiter
from webapp.subscriber import TopicSubscriber

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.bus = EventBus(
            buffer_size=config.buffer_size,
            client_queue=config.client_queue,
            write_timeout=config.write_timeout,
            reorder_delay=config.reorder_ms / 1000,
            warming=config.pubsub_enabled and config.replay_window_minutes > 0,
        )
        self.limiter = StreamLimiter(config.max_streams_per_client, config.max_streams)
        self.dispatcher = Dispatcher(
            self.bus,
            tick=config.flush_interval,
            heartbeat=config.heartbeat_seconds,
            client_queue=config.client_queue,
            write_timeout=config.write_timeout,
        )
        self.subscriber: TopicSubscriber | None = None
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="sse-reaper", daemon=True)
        self._releaser = threading.Thread(
            target=self.bus.run_releaser, args=(self._stop,), name="bus-releaser", daemon=True
        )
        self._shutdown_lock = threading.Lock()
        self._shut_down = False
        self._expiries: dict[int, tuple[float, ClientStream]] = {}
        self._expiries_lock = threading.Lock()

    def start(self) -> Runtime:
        self._reaper.start()
        self._releaser.start()
        self.dispatcher.start()
        if self.config.pubsub_enabled:
            self.subscriber = TopicSubscriber(
                self.bus,
                self.config.project,
                prefix=self.config.topic_prefix,
                ttl_days=self.config.subscription_ttl_days,
                replay_window=self.config.replay_window_minutes * 60.0,
                reference_window=self.config.reference_window_hours * 3600.0,
                warmup_quiet=self.config.warmup_quiet_seconds,
            )
            self.subscriber.start()
        return self

    @property
    def ready(self) -> bool:
        return not self._shut_down and (self.subscriber is None or self.subscriber.ready)

    def end_at(self, client: ClientStream, when: float | None) -> None:
        """End ``client``'s stream at ``when`` (its token's expiry; ``None``: never).

        A stream is authorised when it opens; without this it would outlive its token for as
        long as the connection lasts (Cloud Run cuts at an hour, a VM never).  Cut, the
        browser reconnects and must present a valid token again.
        """
        if when is not None:
            with self._expiries_lock:
                self._expiries[client.number] = (when, client)

    def due_for_expiry(self, now: float) -> list[ClientStream]:
        """Open streams whose token has expired (entries of closed streams are forgotten)."""
        with self._expiries_lock:
            done = [n for n, (when, c) in self._expiries.items() if c.closed or when <= now]
            due = [self._expiries.pop(n)[1] for n in done]
        return [c for c in due if not c.closed]

    def _reap(self) -> None:
        interval = min(0.5, self.config.write_timeout / 4)
        while not self._stop.wait(interval):
            for client in self.due_for_expiry(time.time()):
                self.bus.drop(client, "expired")
                log.info(
                    "ended SSE client #%d (%s): its token expired",
                    client.number,
                    client.address,
                    extra={"json_fields": {"event": "sse-token-expired"}},
                )
            for client in self.bus.reap():
                log.warning(
                    "dropped slow SSE client #%d (%s): %d events behind",
                    client.number,
                    client.address,
                    client.lag(),
                    # counted by the log-based metric tote_webapp_dropped_clients (Terraform)
                    extra={"json_fields": {"event": "sse-client-dropped", "lag": client.lag()}},
                )

    def shutdown(self) -> None:
        # The lock is held throughout: a second caller waits until the first has finished.
        with self._shutdown_lock:
            if self._shut_down:
                return
            self._shut_down = True
            log.info("shutting down: stopping subscriptions, closing streams")
            if self.subscriber is not None:
                self.subscriber.stop_pulling()
            self._stop.set()
            self.bus.release_due(float("inf"))  # flush what the reorder delay still holds
            self.bus.wake()
            self.bus.close()
            self.dispatcher.stop()
            if self.subscriber is not None:
                self.subscriber.close()
