"""The connector client against the Tote simulator (subprocess) and the Pub/Sub emulator."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.service import ConnectorService
from connector.settings import Settings
from connector.status import State
from contract.ingress import parse_timestamp

from .conftest import API_KEY, Ingress, SimulatorProcess, wait_until
from .fakes import GatedPublisher

pytestmark = pytest.mark.emulator

Factory = Callable[..., ConnectorService]


@pytest.fixture
def connector(ingress: Ingress) -> Iterator[Factory]:
    services: list[ConnectorService] = []

    def make(sim: SimulatorProcess, **overrides: Any) -> ConnectorService:
        values: dict[str, Any] = {
            "tote_url": sim.url,
            "api_key": API_KEY,
            "project": ingress.project,
            "ingress_topic": ingress.topic,
            "backoff_base_seconds": 0.05,
            "backoff_cap_seconds": 0.5,
            "ack_timeout_seconds": 10,
            "watchdog_seconds": 20,
            "flush_timeout_seconds": 30,
        }
        values.update(overrides)
        service = ConnectorService(Settings(**values))
        services.append(service)
        service.start()
        return service

    yield make
    for service in services:
        service.shutdown()


def state(service: ConnectorService) -> dict[str, Any]:
    return service.status_dict()


def settle(service: ConnectorService, sim: SimulatorProcess) -> dict[str, Any]:
    """Wait until the simulator is done and everything it sent was acknowledged by Pub/Sub."""
    wait_until(lambda: sim.stats()["done"], 60, "simulator to send its frames")
    sent = len(sim.recorded())
    wait_until(lambda: state(service)["published"] >= sent, 60, f"{sent} frames published")
    return state(service)


def assert_all_forwarded(sim: SimulatorProcess, messages: list[Any]) -> None:
    """Every frame the simulator sent arrived once per send, byte for byte."""
    sent = Counter(line["frame"].encode() for line in sim.recorded())
    got = Counter(m.data for m in messages)
    assert got == sent
    assert len({m.attributes["frame_id"] for m in messages}) == len(messages)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_forwards_every_frame_with_contract_attributes(
    start_simulator: Callable[..., SimulatorProcess],
    connector: Factory,
    ingress: Ingress,
    protocol: str,
) -> None:
    sim = start_simulator("--protocols", protocol, "--rate", "400", "--max-frames", "400")
    service = connector(sim)
    status = settle(service, sim)
    messages = ingress.pull(len(sim.recorded()))
    assert_all_forwarded(sim, messages)
    assert status["protocol"] == protocol and status["state"] == "connected"
    recorded = {line["frame"].encode(): line["field"] for line in sim.recorded()}
    for m in messages:
        attrs = m.attributes
        assert attrs["protocol"] == protocol
        assert attrs["connection_id"] == status["connection_id"]
        assert attrs["subscription"] == recorded[m.data]
        parse_timestamp(attrs["received_at"])
    assert status["frames_received"] == sim.stats()["frames_sent"]
    assert status["refused"] == 0 and status["buffered"] == 0
    assert all(s["state"] == "active" for s in status["subscriptions"].values())
    # received_at is the order downstream knows: distinct, and in the order the frames were sent
    # (one connection, so sent order is read order), even for frames read in one millisecond.
    frames = [line["frame"].encode() for line in sim.recorded()]
    once = {frame: i for i, frame in enumerate(frames) if frames.count(frame) == 1}
    stamped = sorted(messages, key=lambda m: m.attributes["received_at"])
    assert len({m.attributes["received_at"] for m in messages}) == len(messages)
    order = [once[m.data] for m in stamped if m.data in once]
    assert len(order) > 300 and order == sorted(order)


def test_reconnects_and_resubscribes_after_a_drop_without_losing_a_frame(
    start_simulator: Callable[..., SimulatorProcess], connector: Factory, ingress: Ingress
) -> None:
    sim = start_simulator("--rate", "200", "--max-frames", "600")
    service = connector(sim)
    wait_until(lambda: sim.stats()["generated"] >= 150, 60, "first frames")
    sim.fault("drop")
    wait_until(lambda: sim.stats()["connections_total"] >= 2, 60, "a reconnect")
    status = settle(service, sim)
    assert status["reconnects"] >= 1 and status["last_reconnect_reason"]
    assert status["connections"] >= 2
    assert sim.stats()["subscriptions"] == len(service.subscriptions)  # resubscribed
    assert_all_forwarded(sim, ingress.pull(len(sim.recorded())))


def test_duplicates_and_malformed_frames_are_forwarded_as_received(
    start_simulator: Callable[..., SimulatorProcess], connector: Factory, ingress: Ingress
) -> None:
    sim = start_simulator("--rate", "100", "--max-frames", "200")
    service = connector(sim)
    wait_until(lambda: sim.stats()["generated"] >= 20, 60, "first frames")
    sim.fault("duplicate?count=5")
    sim.fault("malformed?count=3")
    status = settle(service, sim)
    stats = sim.stats()
    assert stats["duplicates_sent"] == 5 and stats["malformed_sent"] == 3
    assert status["malformed_frames"] == 3
    messages = ingress.pull(len(sim.recorded()))
    assert_all_forwarded(sim, messages)
    malformed = [m for m in messages if b"broken" in m.data]
    assert len(malformed) == 3 and all("subscription" not in m.attributes for m in malformed)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_watchdog_reconnects_a_silent_socket_within_three_keepalives(
    start_simulator: Callable[..., SimulatorProcess], connector: Factory, protocol: str
) -> None:
    """The deadline comes from the observed cadence (0.5 s here), not the 30 s cap."""
    sim = start_simulator("--rate", "20", "--keepalive", "0.5", "--protocols", protocol)
    service = connector(sim, watchdog_seconds=30.0, client_ping_seconds=0.5)
    wait_until(lambda: state(service)["frames_received_total"] > 0, 60, "first frames")
    if protocol == "graphql-ws":  # no client ping: the cadence is learnt from the server's ka
        wait_until(lambda: state(service)["keepalive_interval_s"], 30, "a keep-alive interval")
    wait_until(lambda: (state(service)["watchdog_deadline_s"] or 99) <= 3, 30, "derived deadline")
    started = time.monotonic()
    sim.fault("silence?seconds=8")
    wait_until(lambda: state(service)["reconnects"] >= 1, 30, "the watchdog to fire")
    detected = time.monotonic() - started
    status = state(service)
    assert "watchdog" in status["last_reconnect_reason"]
    assert sim.stats()["faults"] == {"silence": 1}
    print(f"silence detected after {detected:.2f}s ({protocol}, keep-alive 0.5 s)")
    wait_until(lambda: state(service)["state"] == "connected", 30, "reconnected")
    assert sim.stats()["connections_total"] >= 2


@pytest.mark.parametrize("code", [4401, 4409])
def test_fatal_close_code_stops_retrying(
    start_simulator: Callable[..., SimulatorProcess], connector: Factory, code: int
) -> None:
    sim = start_simulator("--rate", "20")
    service = connector(sim)
    wait_until(lambda: state(service)["state"] == "connected", 60, "connected")
    sim.fault(f"close?code={code}")
    wait_until(lambda: state(service)["state"] == "failed", 30, "failed state")
    assert str(code) in state(service)["fatal"]
    wait_until(lambda: not service.running, 10, "service stopped running")
    # with a 50 ms backoff a retry loop would have reconnected many times by now
    wait_until(lambda: sim.stats()["connections"] == 0, 10, "socket closed")
    assert sim.stats()["connections_total"] == 1
    assert service.start() is True  # an operator can start it again after fixing the cause
    wait_until(lambda: state(service)["state"] == "connected", 60, "connected again")


@pytest.mark.parametrize("code", [1011, 4408])
def test_retryable_close_codes_reconnect(
    start_simulator: Callable[..., SimulatorProcess], connector: Factory, code: int
) -> None:
    sim = start_simulator("--rate", "20")
    service = connector(sim)
    wait_until(lambda: state(service)["state"] == "connected", 60, "connected")
    sim.fault(f"close?code={code}")
    wait_until(lambda: sim.stats()["connections_total"] >= 2, 30, "a reconnect")
    wait_until(lambda: state(service)["state"] == "connected", 30, "connected again")
    status = state(service)
    assert status["reconnects"] == 1 and f"close {code}" in status["last_reconnect_reason"]
    assert status["fatal"] is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), "HTTP 401"), (("--init-auth-only", "--protocols", "graphql-ws"), "refused")],
)
def test_wrong_key_is_fatal(
    start_simulator: Callable[..., SimulatorProcess],
    connector: Factory,
    args: tuple[str, ...],
    expected: str,
) -> None:
    sim = start_simulator(*args)
    service = connector(sim, api_key="not-the-key")
    wait_until(lambda: state(service)["state"] == "failed", 30, "failed state")
    assert expected in state(service)["fatal"]
    assert "not-the-key" not in json.dumps(state(service))


def test_rejected_subscription_is_reported_and_others_continue(
    start_simulator: Callable[..., SimulatorProcess],
    connector: Factory,
    ingress: Ingress,
    tmp_path: Path,
) -> None:
    selections = tmp_path / "selections.json"
    selections.write_text(json.dumps({"onProductStatusChanged": "{ productId status"}))
    sim = start_simulator("--rate", "200", "--max-frames", "300")
    service = connector(
        sim,
        subscriptions=("onPoolTotalChanged", "onProductStatusChanged"),
        selections_file=str(selections),
    )
    status = settle(service, sim)
    rejected = status["subscriptions"]["onProductStatusChanged"]
    assert rejected["state"] == "rejected" and "Syntax error" in rejected["detail"]
    assert status["subscriptions"]["onPoolTotalChanged"]["state"] == "active"
    assert status["frames_received"]["onPoolTotalChanged"] == len(sim.recorded())
    messages = ingress.pull(len(sim.recorded()) + 1)
    errors = [m for m in messages if json.loads(m.data)["type"] == "error"]
    assert len(errors) == 1 and errors[0].attributes["subscription"] == "onProductStatusChanged"


def test_stop_flushes_every_received_frame_and_is_idempotent(
    start_simulator: Callable[..., SimulatorProcess], connector: Factory, ingress: Ingress
) -> None:
    sim = start_simulator("--rate", "2000")
    service = connector(sim)
    wait_until(lambda: state(service)["frames_received_total"] >= 1000, 60, "frames flowing")
    assert service.stop() is True
    status = state(service)
    assert status["state"] == State.STOPPED and not status["running"]
    assert status["buffered"] == 0
    received = status["frames_received_total"]
    assert status["published"] == received
    assert len(ingress.pull(received)) == received
    assert service.stop() is False
    wait_until(lambda: sim.stats()["connections"] == 0, 10, "socket closed")


def test_backpressure_waits_for_space_then_refuses_and_counts(
    pubsub_emulator: object, project: str
) -> None:
    """A full buffer stops the receive loop; a frame is refused only after the grace period."""
    import asyncio

    from connector.client import ToteClient
    from connector.forwarder import Forwarder, Frame
    from connector.pubsub import IngressPublisher
    from connector.status import ConnectorStatus
    from contract.ingress import new_id
    from devstack.provision import ensure_topics

    topic = f"later-{new_id()[:10]}"
    ensure_topics(project, [topic])
    real = IngressPublisher(project, topic)
    publisher = GatedPublisher(real)  # Pub/Sub "down" until opened: the frame cannot leave
    forwarder = Forwarder(publisher, capacity=1, retry_base=0.05, retry_cap=0.1)
    settings = Settings(project=project, ingress_topic=topic, backpressure_seconds=0.3)
    client = ToteClient(settings, [], forwarder, ConnectorStatus())
    try:
        assert forwarder.offer(Frame(b"first", {"frame_id": new_id()}))
        asyncio.run(client._forward(Frame(b"second", {"frame_id": new_id()})))
        assert forwarder.snapshot().refused == 1 and forwarder.pending == 1

        offers: list[bool] = []
        offer = forwarder.offer

        def counted_offer(frame: Frame) -> bool:
            offers.append(offer(frame))
            return offers[-1]

        async def forward_while_space_frees() -> None:
            waiting = asyncio.create_task(client._forward(Frame(b"third", {"frame_id": new_id()})))
            while offers.count(False) < 3:  # the frame was offered and refused three times
                await asyncio.sleep(0.005)
            assert not waiting.done()  # the loop is held, not dropping
            publisher.open()
            await waiting

        settings_long = Settings(project=project, ingress_topic=topic, backpressure_seconds=30)
        client.settings = settings_long
        forwarder.offer = counted_offer  # type: ignore[method-assign]  # a spy that counts refusals
        asyncio.run(forward_while_space_frees())
        assert forwarder.snapshot().refused == 1  # the third frame got in once space freed
        assert forwarder.flush(30) and forwarder.snapshot().published == 2
    finally:
        forwarder.close(5)
        real.close()
