"""Create the Pub/Sub topics and subscriptions the system needs, from the message catalog.

Idempotent (``AlreadyExists`` is success), so ``make run``, tests and benchmarks call it freely.
Against the emulator set ``PUBSUB_EMULATOR_HOST`` first; in a real project Terraform owns these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from google.api_core import exceptions
from google.cloud import pubsub_v1

from contract import catalog

__all__ = ["all_topics", "ensure_subscription", "ensure_topics", "provision_pubsub"]


def all_topics() -> list[str]:
    """Every topic name: ingress, the eight typed topics, reference data, dead letters."""
    return [
        catalog.INGRESS_TOPIC,
        *(t.name for t in catalog.TOPICS),
        catalog.REFERENCE_TOPIC,
        catalog.DEAD_LETTER_TOPIC,
    ]


def ensure_topics(project: str, topics: Iterable[str]) -> None:
    publisher = pubsub_v1.PublisherClient()
    for topic in topics:
        with contextlib.suppress(exceptions.AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic))


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
    project: str, ingress_subscription: str = catalog.INGRESS_SUBSCRIPTION
) -> None:
    """All topics plus the pipeline's ingress subscription."""
    ensure_topics(project, all_topics())
    ensure_subscription(project, catalog.INGRESS_TOPIC, ingress_subscription)
