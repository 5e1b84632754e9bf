"""The Pub/Sub shell: this instance's own subscriptions to the eight typed topics.

Why per-instance subscriptions: a subscription delivers each message to *one* of its
subscribers, so instances sharing one would split the events between them; every instance must
see every event.  So each instance creates ``<topic>.webapp-<instance>`` at start, with an
expiration policy (``WEBAPP_SUBSCRIPTION_TTL_DAYS``, 1 day is Pub/Sub's minimum) and short
retention, and deletes them on clean shutdown; an instance that dies without cleaning up leaves
subscriptions that expire by themselves after the TTL of inactivity.

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

from contract import catalog
from webapp.bus import EventBus
from webapp.events import MessageError, parse_message

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

    def as_dict(self) -> dict:
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
    ) -> None:
        self.bus = bus
        self.project = project
        self.prefix = prefix
        self.ttl_days = ttl_days
        self.instance_id = instance_id or f"{bus.epoch}-{uuid.uuid4().hex[:6]}"
        self.max_backoff = max_backoff
        self._client = pubsub_v1.SubscriberClient()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.states = [
            SubscriptionState(
                topic=self._client.topic_path(project, f"{prefix}{t.name}"),
                subscription=self._client.subscription_path(
                    project, f"{prefix}{t.name}.webapp-{self.instance_id}"
                ),
            )
            for t in catalog.TOPICS
        ]

    @property
    def ready(self) -> bool:
        return all(s.state == "active" for s in self.states)

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
            self._stop.wait(0.5)

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

    def _on_message(
        self, state: SubscriptionState, message: pubsub_v1.subscriber.message.Message
    ) -> None:
        if self.bus.closed:
            message.nack()
            return
        try:
            incoming = parse_message(
                message.data,
                dict(message.attributes),
                state.topic,
                prefix=self.prefix,
                message_id=message.message_id,
                published_at=message.publish_time.timestamp() if message.publish_time else None,
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
