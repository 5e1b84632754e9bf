"""The Pub/Sub shell: this instance's own subscriptions to the typed topics and ``tote-reference``.

Why per-instance subscriptions: a subscription delivers each message to *one* of its
subscribers, so instances sharing one would split the events between them; every instance must
see every event.  So each instance creates ``<topic>.webapp-<instance>`` at start, with an
expiration policy (``WEBAPP_SUBSCRIPTION_TTL_DAYS``, 1 day is Pub/Sub's minimum) and short
retention, and deletes them on clean shutdown; an instance that dies without cleaning up leaves
subscriptions that expire by themselves after the TTL of inactivity.

Warm-up: right after creating a subscription the instance seeks it to ``replay_window`` ago
(``tote-reference``: ``reference_window``, a racing day, as its names are published rarely)
(the topics keep messages for at least that long: ``message_retention_duration`` in
Terraform), so a fresh instance receives the whole window again — the same history, released
in the same order, as an instance that has been up all along — and builds ``/state`` from it.
The bus holds everything until the backlog has been quiet for ``warmup_quiet`` seconds (no
message published before this instance started has arrived for that long); only then is the
window released and the instance ready.  Measured on the official emulator: a topic created
with ``message_retention_duration`` keeps its messages and ``seek`` to a time works (a new
subscription even receives the whole retained history, which the seek then trims to the
window); a topic created without retention keeps nothing, and the seek is a no-op.

Streaming pull; a message is acknowledged only after the bus holds it.  A message the web app
cannot read is logged (id, topic, reason: never its content) and acknowledged: it is already
safe in BigQuery and in the pipeline's dead letters, and redelivering it would not fix it.

A supervisor thread (re)creates subscriptions and restarts streaming pulls that end, with
exponential backoff and jitter, so a missing topic at start or an emulator/Pub/Sub outage
heals by itself; ``/health`` reports "starting" until every topic is subscribed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.protobuf import timestamp_pb2

from contract import catalog
from webapp.bus import EventBus
from webapp.events import REFERENCE_TOPIC, MessageError, parse_message

__all__ = ["SubscriptionState", "TopicSubscriber"]

log = logging.getLogger(__name__)


@dataclass
class SubscriptionState:
    """What ``/status`` shows for one typed topic."""

    topic: str
    subscription: str
    state: str = "pending"  # pending -> active; "retrying" after a failure
    received: int = 0
    rejected: int = 0
    attempts: int = 0
    last_error: str | None = None
    next_attempt: float = 0.0
    future: pubsub_v1.subscriber.futures.StreamingPullFuture | None = field(
        default=None, repr=False
    )

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "topic": self.topic,
            "subscription": self.subscription,
            "state": self.state,
            "received": self.received,
            "rejected": self.rejected,
            "last_error": self.last_error,
        }


class TopicSubscriber:
    """Subscribes this instance to every typed topic and feeds the bus."""

    def __init__(
        self,
        bus: EventBus,
        project: str,
        prefix: str = "",
        ttl_days: int = 1,
        instance_id: str | None = None,
        max_backoff: float = 30.0,
        replay_window: float = 0.0,
        warmup_quiet: float = 1.0,
        reference_window: float | None = None,
    ) -> None:
        self.bus = bus
        self.project = project
        self.prefix = prefix
        self.ttl_days = ttl_days
        self.instance_id = instance_id or f"{bus.epoch}-{uuid.uuid4().hex[:6]}"
        self.max_backoff = max_backoff
        self.replay_window = replay_window
        self.reference_window = replay_window if reference_window is None else reference_window
        """How far back ``tote-reference`` is replayed: names are published rarely (a racing
        day's at its start), so further back than the typed topics."""
        self.warmup_quiet = warmup_quiet
        self.started_at = time.time()
        self._last_backlog = time.monotonic()
        self._all_active_at: float | None = None
        self.seek_failures = 0
        self._client = pubsub_v1.SubscriberClient()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.states = [
            SubscriptionState(
                topic=self._client.topic_path(project, f"{prefix}{t}"),
                subscription=self._client.subscription_path(
                    project, f"{prefix}{t}.webapp-{self.instance_id}"
                ),
            )
            for t in (*(t.name for t in catalog.TOPICS), REFERENCE_TOPIC)
        ]

    @property
    def subscribed(self) -> bool:
        return all(s.state == "active" for s in self.states)

    @property
    def ready(self) -> bool:
        return self.subscribed and not self.bus.warming

    def _check_warmup(self) -> None:
        """End the warm-up once subscribed and the replayed backlog has gone quiet."""
        if not self.bus.warming:
            return
        now = time.monotonic()
        if not self.subscribed:
            self._all_active_at = None
            return
        if self._all_active_at is None:
            self._all_active_at = now
        quiet = self.warmup_quiet
        if now - self._all_active_at >= quiet and now - self._last_backlog >= quiet:
            window_ms = int(self.replay_window * 1000)
            start_ms = int(self.started_at * 1000)
            history = start_ms - window_ms if self.seek_failures == 0 else start_ms
            released = self.bus.finish_warmup(history_from_ms=history)
            log.info("warm-up done: %d events from the replay window released", released)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._supervise, name="pubsub-supervisor", daemon=True
        )
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for state in self.states:
                if self._stop.is_set():
                    return
                if state.future is not None and state.future.done():
                    self._failed(state, state.future.exception() or "streaming pull ended")
                if state.future is None and now >= state.next_attempt:
                    self._subscribe(state)
            self._check_warmup()
            self._stop.wait(0.1 if self.bus.warming else 0.5)

    def _failed(self, state: SubscriptionState, error: object) -> None:
        state.future = None
        state.attempts += 1
        state.state = "retrying"
        state.last_error = f"{type(error).__name__}: {error}"[:300]
        backoff = min(self.max_backoff, 0.5 * 2 ** min(state.attempts, 10))
        state.next_attempt = time.monotonic() + backoff * random.uniform(0.5, 1.0)
        log.warning("subscription %s failed (%s); retrying", state.subscription, state.last_error)

    def _subscribe(self, state: SubscriptionState) -> None:
        try:
            created = False
            with contextlib.suppress(exceptions.AlreadyExists):
                self._client.create_subscription(
                    request={
                        "name": state.subscription,
                        "topic": state.topic,
                        "ack_deadline_seconds": 30,
                        "expiration_policy": {"ttl": timedelta(days=self.ttl_days)},
                        "message_retention_duration": timedelta(minutes=10),
                        "labels": {"owner": "tote-webapp"},
                    }
                )
                created = True
            window = (
                self.reference_window
                if state.topic.endswith("/" + self.prefix + REFERENCE_TOPIC)
                else self.replay_window
            )
            if created and window > 0:
                self._seek(state, window)
            with self._lock:
                if self._stop.is_set():
                    return
                state.future = self._client.subscribe(
                    state.subscription,
                    callback=functools.partial(self._on_message, state),
                    flow_control=pubsub_v1.types.FlowControl(max_messages=2000),
                )
            state.state = "active"
            state.attempts = 0
            log.info("subscribed %s", state.subscription)
        except exceptions.GoogleAPIError as exc:
            self._failed(state, exc)

    def _seek(self, state: SubscriptionState, window: float) -> None:
        """Rewind a new subscription to the start of the replay window (see the module doc)."""
        when = timestamp_pb2.Timestamp()
        when.FromMilliseconds(int((self.started_at - window) * 1000))
        try:
            self._client.seek(request={"subscription": state.subscription, "time": when})
        except exceptions.GoogleAPIError as exc:
            self.seek_failures += 1
            log.warning("could not seek %s back (%s): history starts now", state.subscription, exc)

    def _on_message(
        self, state: SubscriptionState, message: pubsub_v1.subscriber.message.Message
    ) -> None:
        if self.bus.closed:
            message.nack()
            return
        published = message.publish_time.timestamp() if message.publish_time else None
        if published is not None and published < self.started_at:
            self._last_backlog = time.monotonic()
        try:
            incoming = parse_message(
                message.data,
                dict(message.attributes),
                state.topic,
                prefix=self.prefix,
                message_id=message.message_id,
                published_at=published,
            )
        except MessageError as exc:
            state.rejected += 1
            log.error("rejected message %s on %s: %s", message.message_id, state.topic, exc)
            message.ack()
            return
        self.bus.publish(incoming)
        state.received += 1
        message.ack()

    def stop_pulling(self) -> None:
        """Stop the supervisor from (re)subscribing; pulls already running continue."""
        with self._lock:
            self._stop.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop pulling, wait for in-flight callbacks, delete this instance's subscriptions."""
        with self._lock:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for state in self.states:
            if state.future is not None:
                state.future.cancel()
                with contextlib.suppress(Exception):
                    state.future.result(timeout=timeout)
                state.future = None
            with contextlib.suppress(exceptions.GoogleAPIError):
                self._client.delete_subscription(request={"subscription": state.subscription})
            state.state = "deleted"
        self._client.close()
