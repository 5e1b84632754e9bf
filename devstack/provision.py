"""Create the Pub/Sub topics and subscriptions the system needs, from the message catalog.

Idempotent (``AlreadyExists`` is success), so ``make run``, tests and benchmarks call it freely.
Against the emulator set ``PUBSUB_EMULATOR_HOST`` first; in a real project Terraform owns these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from google.api_core import exceptions
from google.cloud import pubsub_v1

from contract import catalog

__all__ = ["all_topics", "ensure_subscription", "ensure_topics", "provision_pubsub"]


WEBAPP_TOPIC_RETENTION = timedelta(hours=1)
"""What the typed and reference topics keep in Terraform, so a new web app instance can seek
its subscriptions back over its replay window (``WEBAPP_REPLAY_WINDOW_MINUTES``).  Only on
request here: the emulator hands a retained topic's whole history to every *new* subscription
(real Pub/Sub does not)."""


def all_topics() -> list[str]:
    """Every topic name: ingress, the eight typed topics, reference data, dead letters."""
    return [
        catalog.INGRESS_TOPIC,
        *(t.name for t in catalog.TOPICS),
        catalog.REFERENCE_TOPIC,
        catalog.DEAD_LETTER_TOPIC,
    ]


def ensure_topics(
    project: str, topics: Iterable[str], *, retention: timedelta | None = None
) -> None:
    publisher = pubsub_v1.PublisherClient()
    for topic in topics:
        request: dict[str, Any] = {"name": publisher.topic_path(project, topic)}
        if retention is not None:
            request["message_retention_duration"] = retention
        with contextlib.suppress(exceptions.AlreadyExists):
            publisher.create_topic(request=request)


def ensure_subscription(
    project: str, topic: str, subscription: str, *, ack_deadline: int = 60
) -> str:
    """Create ``subscription`` on ``topic`` unless it exists; returns its path."""
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    try:
        subscriber.create_subscription(
            name=path,
            topic=subscriber.topic_path(project, topic),
            ack_deadline_seconds=ack_deadline,
        )
    except exceptions.AlreadyExists:
        pass
    finally:
        subscriber.close()
    return path


def provision_pubsub(
    project: str,
    ingress_subscription: str = catalog.INGRESS_SUBSCRIPTION,
    *,
    webapp_retention: bool = False,
) -> None:
    """All topics plus the pipeline's ingress subscription.

    ``webapp_retention``: the typed and reference topics keep ``WEBAPP_TOPIC_RETENTION`` (as in
    Terraform), so a restarted web app replays its window (``make run``).  Off by default: on
    the emulator a retained topic hands its whole history to every new subscription, which tests
    that share a project and subscribe after publishing do not expect.
    """
    if webapp_retention:
        webapp_topics = [*(t.name for t in catalog.TOPICS), catalog.REFERENCE_TOPIC]
        ensure_topics(project, webapp_topics, retention=WEBAPP_TOPIC_RETENTION)
    ensure_topics(project, all_topics())
    ensure_subscription(project, catalog.INGRESS_TOPIC, ingress_subscription)
