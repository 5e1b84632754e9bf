"""The Pub/Sub shell against the official emulator."""

from __future__ import annotations

import json
import uuid

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from devstack.provision import WEBAPP_TOPIC_RETENTION, ensure_topics
from devstack.pubsub_emulator import PubSubEmulator
from tests.webapp.messages import WEBAPP_TOPICS, event_status, pool_total, reference
from tests.webapp.servers import poll
from webapp.bus import EventBus
from webapp.filters import EventFilter
from webapp.subscriber import TopicSubscriber

pytestmark = pytest.mark.emulator


@pytest.fixture
def prefix(pubsub_emulator: PubSubEmulator, project: str) -> str:
    """A fresh topic namespace per test (the emulator is shared by the session)."""
    name = f"t{uuid.uuid4().hex[:8]}-"
    ensure_topics(project, [f"{name}{t}" for t in WEBAPP_TOPICS], retention=WEBAPP_TOPIC_RETENTION)
    return name


def _publish(project: str, prefix: str, message: tuple[bytes, dict[str, str], str]) -> None:
    publisher = pubsub_v1.PublisherClient()
    data, attributes, topic = message
    publisher.publish(publisher.topic_path(project, prefix + topic), data, **attributes).result(  # type: ignore[arg-type]  # str attributes (mypy: retry=)
        timeout=30
    )


def test_own_subscriptions_receive_every_typed_topic_and_are_deleted_on_close(
    project: str, prefix: str
) -> None:
    bus = EventBus(epoch="ep")
    client = bus.connect(EventFilter())
    subscriber = TopicSubscriber(bus, project, prefix=prefix)
    subscriber.start()
    try:
        assert poll(lambda: subscriber.ready), [s.as_dict() for s in subscriber.states]
        admin = pubsub_v1.SubscriberClient()
        for state in subscriber.states:
            sub = admin.get_subscription(request={"subscription": state.subscription})
            assert sub.expiration_policy.ttl.days == 1  # expires by itself if we die
            assert ".webapp-" in state.subscription
        _publish(project, prefix, pool_total("12.5"))
        _publish(project, prefix, event_status("OFF"))
        assert poll(lambda: bus.stats().events_in == 2)
        assert sorted(e.stream for e in client.take()) == ["event-status", "pool-total"]
        assert bus.pubsub_delay.summary()["samples"] == 2  # publish time came through
    finally:
        subscriber.close()
    for state in subscriber.states:
        with pytest.raises(exceptions.NotFound):
            admin.get_subscription(request={"subscription": state.subscription})


def test_unreadable_message_is_rejected_and_acknowledged(project: str, prefix: str) -> None:
    bus = EventBus(epoch="ep")
    subscriber = TopicSubscriber(bus, project, prefix=prefix)
    subscriber.start()
    try:
        assert poll(lambda: subscriber.ready)
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(project, prefix + "tote-pool-total-changed")
        publisher.publish(topic, b"{broken").result(timeout=30)
        _publish(project, prefix, pool_total("1"))
        state = next(s for s in subscriber.states if s.topic == topic)
        assert poll(lambda: state.rejected == 1 and state.received == 1)
        assert bus.stats().events_in == 1
    finally:
        subscriber.close()


def test_missing_topics_are_retried_until_they_exist(
    project: str, pubsub_emulator: PubSubEmulator
) -> None:
    prefix = f"late{uuid.uuid4().hex[:6]}-"
    bus = EventBus(epoch="ep")
    subscriber = TopicSubscriber(bus, project, prefix=prefix, max_backoff=1.0)
    subscriber.start()
    try:
        assert poll(lambda: all(s.state == "retrying" for s in subscriber.states))
        assert "NotFound" in (subscriber.states[0].last_error or "")
        ensure_topics(
            project, [f"{prefix}{t}" for t in WEBAPP_TOPICS], retention=WEBAPP_TOPIC_RETENTION
        )
        assert poll(lambda: subscriber.ready)
    finally:
        subscriber.close()


def test_a_subscription_lost_while_running_is_recreated(project: str, prefix: str) -> None:
    bus = EventBus(epoch="ep")
    subscriber = TopicSubscriber(bus, project, prefix=prefix, max_backoff=1.0)
    subscriber.start()
    try:
        assert poll(lambda: subscriber.ready)
        state = next(s for s in subscriber.states if s.topic.endswith("tote-pool-total-changed"))
        pubsub_v1.SubscriberClient().delete_subscription(
            request={"subscription": state.subscription}
        )
        assert poll(lambda: state.last_error is not None), state.as_dict()
        assert poll(lambda: state.state == "active" and subscriber.ready), state.as_dict()
        _publish(project, prefix, pool_total("3"))
        assert poll(lambda: bus.stats().events_in == 1)
    finally:
        subscriber.close()


def test_a_new_instance_replays_its_window_in_order_before_it_is_ready(
    project: str, prefix: str
) -> None:
    """Seek to a time on a topic with retention (measured: the emulator supports it)."""
    published = [pool_total(str(i), received_at=f"2026-11-26T14:03:0{i}.000Z") for i in range(5)]
    for message in reversed(published):  # published newest first: released oldest first
        _publish(project, prefix, message)
    _publish(project, prefix, reference("event", "RACE-1", {"venue": "Ascot"}))
    bus = EventBus(warming=True)
    subscriber = TopicSubscriber(
        bus, project, prefix=prefix, replay_window=600, warmup_quiet=0.5, max_backoff=1.0
    )
    subscriber.start()
    try:
        assert poll(lambda: subscriber.ready)
        client = bus.connect(EventFilter(), after=0)
        events = client.take()
        pools = [e for e in events if e.stream == "pool-total"]
        assert [json.loads(e.body)["data"]["gross_amounts"][0]["amount"] for e in pools] == [
            str(i) for i in range(5)
        ]
        assert bus.reference.get("event", "RACE-1") is not None
        assert subscriber.seek_failures == 0
        assert bus.history_from_ms < int(subscriber.started_at * 1000) - 590_000
    finally:
        subscriber.close()
