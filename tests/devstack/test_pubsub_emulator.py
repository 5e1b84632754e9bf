"""The emulator fixture really serves Pub/Sub, and provisioning creates what the catalog lists."""

from __future__ import annotations

from google.cloud import pubsub_v1

from contract import catalog
from devstack.provision import all_topics, ensure_subscription, provision_pubsub


def test_provision_creates_every_catalog_topic_idempotently(pubsub_emulator, project):
    provision_pubsub(project)
    provision_pubsub(project)  # second call must not fail
    publisher = pubsub_v1.PublisherClient()
    names = {
        t.name.rsplit("/", 1)[-1] for t in publisher.list_topics(project=f"projects/{project}")
    }
    assert set(all_topics()) <= names
    assert len(all_topics()) == 11  # ingress + 8 typed + reference + dead letters
    assert catalog.REFERENCE_TOPIC in all_topics()


def test_published_message_is_pulled_with_attributes(pubsub_emulator, project):
    provision_pubsub(project)
    sub = ensure_subscription(project, catalog.DEAD_LETTER_TOPIC, "test-roundtrip")
    publisher = pubsub_v1.PublisherClient()
    publisher.publish(
        publisher.topic_path(project, catalog.DEAD_LETTER_TOPIC), b"hello", reason="x"
    ).result(10)
    subscriber = pubsub_v1.SubscriberClient()
    resp = subscriber.pull(subscription=sub, max_messages=10, timeout=10)
    assert [m.message.data for m in resp.received_messages] == [b"hello"]
    assert resp.received_messages[0].message.attributes["reason"] == "x"
