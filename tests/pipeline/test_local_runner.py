"""The local-runner speed-ups change nothing but speed."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.runners.direct import transform_evaluator
from apache_beam.transforms import core, userstate

from pipeline import local_runner
from pipeline.transforms import PublishFn, ShardedSemanticDedupFn, ShardedTransportDedupFn


def test_install_memoises_specs_without_changing_them():
    assert local_runner.install() is True
    assert local_runner.install() is True  # idempotent
    for dofn in (ShardedTransportDedupFn(60, 64), ShardedSemanticDedupFn(60), PublishFn("p")):
        first = userstate.get_dofn_specs(dofn)
        assert userstate.get_dofn_specs(type(dofn).__new__(type(dofn))) is first
    transport = userstate.get_dofn_specs(ShardedTransportDedupFn(60, 64))
    semantic = userstate.get_dofn_specs(ShardedSemanticDedupFn(60))
    assert {s.name for s in transport[0]} == {"state", "next_expiry"}
    assert transport[1] != semantic[1]  # each class keeps its own timer spec
    assert userstate.is_stateful_dofn(ShardedTransportDedupFn(60, 64))
    assert not userstate.is_stateful_dofn(PublishFn("p"))


def test_map_wrappers_are_keyed_by_their_function():
    stateless = core.CallableWrapperDoFn(lambda x: x)
    assert userstate.get_dofn_specs(stateless) == (set(), set())
    assert not userstate.is_stateful_dofn(beam.Map(len).dofn)


def test_pubsub_pull_is_bigger_and_shorter(monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)

    class FakeClient:
        def __init__(self):
            self.calls = []

        def pull(self, **kwargs):
            self.calls.append(kwargs)
            return kwargs

    evaluator = transform_evaluator._PubSubReadEvaluator
    fake = FakeClient()
    original = evaluator._get_subscriber_client_state_unlocked

    class Holder:
        client = fake

    try:
        evaluator._get_subscriber_client_state_unlocked = classmethod(lambda cls, t: Holder)
        client = evaluator._get_subscriber_client(object())
        client.pull(subscription="s", max_messages=10, timeout=30)
    finally:
        evaluator._get_subscriber_client_state_unlocked = original
    assert fake.calls == [
        {
            "subscription": "s",
            "max_messages": local_runner.PULL_MAX_MESSAGES,
            "timeout": local_runner.PULL_TIMEOUT_S,
        }
    ]


@pytest.mark.emulator
def test_emulator_pulls_over_4_mib_do_not_fail(pubsub_emulator):
    """A pull response over gRPC's default 4 MiB used to fail with RESOURCE_EXHAUSTED and be
    redelivered forever (the emulator's channel has no size options)."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path("local-runner-test", "big-frames")
    sub = subscriber.subscription_path("local-runner-test", "big-frames")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=sub, topic=topic)
    for i in range(3):
        publisher.publish(topic, b"x" * 2_000_000, frame_id=str(i)).result(30)

    evaluator = transform_evaluator._PubSubReadEvaluator
    original = evaluator._get_subscriber_client_state_unlocked

    class Holder:
        client = pubsub_v1.SubscriberClient()

    try:
        evaluator._get_subscriber_client_state_unlocked = classmethod(lambda cls, t: Holder)
        client = evaluator._get_subscriber_client(object())
        received = []
        while len(received) < 3:
            resp = client.pull(subscription=sub, max_messages=10, timeout=5)
            received += resp.received_messages
    finally:
        evaluator._get_subscriber_client_state_unlocked = original
        subscriber.delete_subscription(subscription=sub)
        publisher.delete_topic(topic=topic)
    assert sorted(m.message.attributes["frame_id"] for m in received) == ["0", "1", "2"]
    assert all(len(m.message.data) == 2_000_000 for m in received)
