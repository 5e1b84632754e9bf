"""The local-runner speed-ups change nothing but speed, are scoped, and refuse a Beam they do
not know.

Every test applies the patches inside ``local_runner.patched()`` (or installs and uninstalls
them itself), so every later Beam test in the session runs on stock Beam.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import objsize
import pytest
from apache_beam.io.gcp import bigquery
from apache_beam.runners.direct import transform_evaluator
from apache_beam.transforms import core, userstate

from pipeline import local_runner
from pipeline.transforms import PublishFn, ShardedSemanticDedupFn, ShardedTransportDedupFn

EVALUATOR = transform_evaluator._PubSubReadEvaluator
STOCK = {
    (userstate, "get_dofn_specs"): userstate.get_dofn_specs,
    (userstate, "is_stateful_dofn"): userstate.is_stateful_dofn,
    (transform_evaluator, "get_dofn_specs"): transform_evaluator.get_dofn_specs,
    (transform_evaluator, "is_stateful_dofn"): transform_evaluator.is_stateful_dofn,
    (bigquery, "get_deep_size"): bigquery.get_deep_size,
    (EVALUATOR, "_get_subscriber_client"): EVALUATOR.__dict__["_get_subscriber_client"],
}


def _current(owner: Any, name: str) -> Any:
    return owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)


def _assert_stock() -> None:
    assert not local_runner.is_installed()
    for (owner, name), stock in STOCK.items():
        assert _current(owner, name) is stock, f"{name} is still patched"


@pytest.fixture(autouse=True)
def stock_beam_before_and_after() -> Iterator[None]:
    _assert_stock()
    yield
    local_runner.uninstall()  # a failed assertion inside a test must not leak the patches
    _assert_stock()


def test_patched_memoises_specs_without_changing_them():
    with local_runner.patched():
        for dofn in (ShardedTransportDedupFn(60, 64), ShardedSemanticDedupFn(60), PublishFn("p")):
            first = userstate.get_dofn_specs(dofn)
            assert userstate.get_dofn_specs(type(dofn).__new__(type(dofn))) is first
            assert transform_evaluator.get_dofn_specs(dofn) is first
        transport = userstate.get_dofn_specs(ShardedTransportDedupFn(60, 64))
        semantic = userstate.get_dofn_specs(ShardedSemanticDedupFn(60))
        assert {s.name for s in transport[0]} == {"state", "next_expiry"}
        assert transport[1] != semantic[1]  # each class keeps its own timer spec
        assert userstate.is_stateful_dofn(ShardedTransportDedupFn(60, 64))
        assert not transform_evaluator.is_stateful_dofn(PublishFn("p"))


def test_stock_functions_are_back_after_the_scope():
    with local_runner.patched():
        assert local_runner.is_installed()
        for (owner, name), stock in STOCK.items():
            assert _current(owner, name) is not stock, f"{name} was not patched"
    _assert_stock()
    dofn = ShardedTransportDedupFn(60, 64)
    assert userstate.get_dofn_specs(dofn) is not userstate.get_dofn_specs(dofn)  # not memoised


def test_install_is_idempotent_and_an_outer_installation_survives_a_scope():
    local_runner.install()
    patched_specs = userstate.get_dofn_specs
    local_runner.install()
    assert userstate.get_dofn_specs is patched_specs
    with local_runner.patched():
        assert userstate.get_dofn_specs is patched_specs
    assert local_runner.is_installed()
    assert userstate.get_dofn_specs is patched_specs
    local_runner.uninstall()
    local_runner.uninstall()  # no-op when not installed


def test_map_wrappers_are_keyed_by_their_function():
    with local_runner.patched():
        stateless = core.CallableWrapperDoFn(lambda x: x)
        assert userstate.get_dofn_specs(stateless) == (set(), set())
        assert not userstate.is_stateful_dofn(beam.Map(len).dofn)


def test_bigquery_row_size_is_its_json_length():
    row = ("insert-id", {"frame_id": "a" * 40, "amount": 1.5})
    with local_runner.patched():
        assert bigquery.get_deep_size(row) == len(
            '["insert-id",{"frame_id":"' + "a" * 40 + '","amount":1.5}]'
        )
    assert bigquery.get_deep_size is objsize.get_deep_size


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.name = "fake"

    def pull(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return kwargs


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)  # the fake's own pull, please
    fake = FakeClient()

    class Holder:
        client = fake

    monkeypatch.setattr(
        EVALUATOR, "_get_subscriber_client_state_unlocked", classmethod(lambda cls, t: Holder)
    )
    return fake


def test_pubsub_pull_is_bigger_and_shorter_only_while_patched(fake_client: FakeClient):
    with local_runner.patched():
        client = EVALUATOR._get_subscriber_client(object())
        client.pull(subscription="s", max_messages=10, timeout=30)
        assert client.name == "fake"  # everything else is the real client's
    assert EVALUATOR._get_subscriber_client(object()) is fake_client
    fake_client.pull(subscription="s", max_messages=10, timeout=30)
    assert fake_client.calls == [
        {
            "subscription": "s",
            "max_messages": local_runner.PULL_MAX_MESSAGES,
            "timeout": local_runner.PULL_TIMEOUT_S,
        },
        {"subscription": "s", "max_messages": 10, "timeout": 30},
    ]


def test_the_tuned_client_is_made_once_per_client(fake_client: FakeClient):
    with local_runner.patched():
        first = EVALUATOR._get_subscriber_client(object())
        assert EVALUATOR._get_subscriber_client(object()) is first


@pytest.mark.emulator
def test_emulator_pulls_over_4_mib_do_not_fail(pubsub_emulator: Any) -> None:
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

    original = EVALUATOR._get_subscriber_client_state_unlocked

    class Holder:
        client = pubsub_v1.SubscriberClient()

    try:
        # A stand-in subscriber client for this test only (restored below).
        EVALUATOR._get_subscriber_client_state_unlocked = classmethod(lambda cls, t: Holder)  # type: ignore[method-assign,assignment]  # patched for this test only
        with local_runner.patched():
            client = EVALUATOR._get_subscriber_client(object())
            received: list[Any] = []
            while len(received) < 3:
                resp = client.pull(subscription=sub, max_messages=10, timeout=5)
                received += resp.received_messages
    finally:
        EVALUATOR._get_subscriber_client_state_unlocked = original  # type: ignore[method-assign]  # the original back
        subscriber.delete_subscription(subscription=sub)
        publisher.delete_topic(topic=topic)
    assert sorted(m.message.attributes["frame_id"] for m in received) == ["0", "1", "2"]
    assert all(len(m.message.data) == 2_000_000 for m in received)


def test_another_beam_release_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(beam, "__version__", "2.78.0")
    with pytest.raises(local_runner.BeamPatchError, match=r"Beam 2\.78\.0 is installed"):
        local_runner.install()


def test_a_moved_function_is_refused_and_nothing_is_patched(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delattr(transform_evaluator, "is_stateful_dofn")
    with pytest.raises(local_runner.BeamPatchError, match="is_stateful_dofn is no longer"):
        local_runner.install()
    assert not local_runner.is_installed()
    assert userstate.get_dofn_specs is STOCK[(userstate, "get_dofn_specs")]


def test_a_changed_signature_is_refused(monkeypatch: pytest.MonkeyPatch):
    def get_dofn_specs(dofn: Any, strict: bool = False) -> Any:
        raise AssertionError("never called")

    monkeypatch.setattr(userstate, "get_dofn_specs", get_dofn_specs)
    with pytest.raises(local_runner.BeamPatchError, match=r"takes \('dofn', 'strict'\)"):
        local_runner.install()


def test_a_replaced_row_sizer_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bigquery, "get_deep_size", len)
    with pytest.raises(local_runner.BeamPatchError, match="get_deep_size is no longer"):
        local_runner.install()
