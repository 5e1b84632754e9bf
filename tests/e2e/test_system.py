"""The whole chain under faults: simulator → connector → Pub/Sub → pipeline → BigQuery + topics →
web app → SSE, with every frame the simulator sent accounted for (see ``accounting.py``).

Each test runs its own system (own project on the shared emulators, own ports) with a
deterministic simulator seed, injects one fault mid-stream, lets the simulator finish its
frames, and checks the accounts: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from devstack.provision import provision_pubsub
from devstack.system import LocalSystem, Ports
from replay import player as replay
from tests.e2e.harness import (
    SseClient,
    barrier,
    captured_frames,
    check_accounts,
    observe,
    raw_count,
    sent_frames,
    wait_for_simulator_done,
)
from tests.pipeline.pubsub_helpers import TopicReader
from webapp.events import EventKey

pytestmark = [pytest.mark.emulator, pytest.mark.bigquery, pytest.mark.slow]

FRAMES = 300
RATE = 60.0


@pytest.fixture
def make_system(
    pubsub_emulator, bigquery_emulator, tmp_path, request
) -> Iterator[Callable[..., tuple[LocalSystem, TopicReader]]]:
    started: list[tuple[LocalSystem, TopicReader]] = []

    def make(**kwargs) -> tuple[LocalSystem, TopicReader]:
        project = "e2e-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
        # Frame accounting covers the websocket's frames: sweeps (query pages on the same
        # ingress topic) are off here and have their own tests (test_convergence.py).
        connector_env = {"TOTE_GRAPHQL_URL": "", **kwargs.pop("connector_env", {})}
        options = {
            "seed": 7,
            "rate": RATE,
            "max_frames": FRAMES,
            "connector_env": connector_env,
            **kwargs,
        }
        system = LocalSystem(
            tmp_path / f"system{len(started)}",
            Ports.free(),
            project=project,
            shared_pubsub=pubsub_emulator,
            shared_bigquery=bigquery_emulator,
            **options,
        )
        provision_pubsub(project)
        reader = TopicReader(project, "e2e")
        started.append((system, reader))
        system.start()
        return system, reader

    yield make
    for system, reader in started:
        system.stop()
        reader.close()


def _sse_from_start(system: LocalSystem) -> SseClient:
    """An SSE client that replays everything the web app holds, then follows (an origin id:
    "from the start of time"; the gap notice it also gets carries no id and is not counted)."""
    return SseClient(f"{system.webapp_url}/events", last_event_id=str(EventKey.origin(0)))


def _wait_received(system: LocalSystem, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while system.simulator_stats()["frames_sent_total"] < at_least:
        assert time.monotonic() < deadline, system.simulator_stats()
        time.sleep(0.1)


def test_race_day_flows_end_to_end_and_sse_reconnects_without_a_gap(make_system):
    system, reader = make_system()
    sse = _sse_from_start(system)
    follower = _sse_from_start(system)
    _wait_received(system, FRAMES // 3)
    # A browser drops its stream mid-race and reconnects with the last id it saw.
    deadline = time.monotonic() + 60
    while not follower.events and time.monotonic() < deadline:
        time.sleep(0.1)
    follower.close()
    seen_before = list(follower.events)
    time.sleep(1.0)
    resumed = SseClient(f"{system.webapp_url}/events", last_event_id=seen_before[-1].id)

    wait_for_simulator_done(system)
    observed = check_accounts(system, reader, sent_frames(system), sse=sse)
    assert len(observed.typed) > FRAMES // 2  # a real race day: most frames are typed events

    deadline = time.monotonic() + 30
    while len(seen_before) + len(resumed.events) < len(sse.events) and time.monotonic() < deadline:
        time.sleep(0.2)
    combined = [e.id for e in seen_before] + [e.id for e in resumed.events]
    assert combined == [e.id for e in sse.events], "Last-Event-ID resume has a gap or a duplicate"
    for client in (sse, resumed):
        client.close()


def test_connection_dropped_mid_stream_reconnects_and_loses_nothing(make_system):
    system, reader = make_system()
    _wait_received(system, FRAMES // 3)
    system.simulator_post("/faults/drop")
    wait_for_simulator_done(system)
    check_accounts(system, reader, sent_frames(system))
    status = system.connector_status()
    assert status["reconnects"] >= 1
    assert system.simulator_stats()["connections_total"] >= 2


def test_silent_socket_is_detected_by_the_watchdog(make_system):
    system, reader = make_system(connector_env={"WATCHDOG_SECONDS": "2"})
    _wait_received(system, FRAMES // 3)
    system.simulator_post("/faults/silence?seconds=6")
    wait_for_simulator_done(system, timeout=180)
    check_accounts(system, reader, sent_frames(system))
    status = system.connector_status()
    assert status["reconnects"] >= 1
    assert "silen" in json.dumps(status).lower() or "watchdog" in json.dumps(status).lower()


def test_injected_duplicates_and_malformed_frames(make_system):
    system, reader = make_system()
    _wait_received(system, FRAMES // 4)
    system.simulator_post("/faults/duplicate?count=15")
    system.simulator_post("/faults/malformed?count=4")
    wait_for_simulator_done(system)
    observed = check_accounts(system, reader, sent_frames(system))
    assert sum(1 for stage in observed.dead.values() if stage == "parse") >= 4
    stats = system.simulator_stats()
    assert stats["duplicates_sent"] == 15 and stats["malformed_sent"] == 4


def test_connector_sigterm_flushes_and_a_restart_resumes(make_system):
    system, reader = make_system()
    _wait_received(system, FRAMES // 3)
    connector = system.processes.pop("connector")
    connector.signal(signal.SIGTERM)
    assert connector.proc.wait(30) is not None
    system.start_connector()
    system.connector_post("/start")
    wait_for_simulator_done(system)
    captured = captured_frames(system)
    # Every frame the connector received before SIGTERM was flushed to Pub/Sub and stored.
    check_accounts(system, reader, captured)
    sent = sent_frames(system)
    lost_in_socket = len(sent) - len(captured)
    assert 0 <= lost_in_socket <= 5, f"{lost_in_socket} frames sent but never received"


def test_pipeline_stopped_and_restarted_processes_the_backlog_once(make_system):
    system, reader = make_system()
    _wait_received(system, FRAMES // 4)
    # Quiesce: the connector flushes, the pipeline catches up, then the pipeline stops.
    system.connector_post("/stop")
    deadline = time.monotonic() + 120
    while raw_count(system) < len(captured_frames(system)):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    system.stop_pipeline()
    before = raw_count(system)
    published = system.connector_status()["published"]
    system.connector_post("/start")  # frames now pile up in the ingress subscription
    deadline = time.monotonic() + 60
    while system.connector_status()["published"] < published + 20:
        assert time.monotonic() < deadline, "the connector published nothing after /start"
        time.sleep(0.2)
    # 20 more frames are on the ingress topic, acknowledged by Pub/Sub: none may be processed.
    assert raw_count(system) == before  # nothing processed while the pipeline is down
    system.start_pipeline()
    wait_for_simulator_done(system)
    check_accounts(system, reader, sent_frames(system))


def test_ingress_backlog_replayed_twice_adds_nothing(make_system):
    system, reader = make_system(max_frames=150)
    wait_for_simulator_done(system)
    first = check_accounts(system, reader, sent_frames(system))
    capture = system.capture_path
    for _ in range(2):
        assert (
            replay.main([str(capture), "--project", system.project, "--speed", "0", "--quiet"]) == 0
        )
    barrier(system)  # the replayed backlog was published before the barrier's probe
    second = check_accounts(system, reader, sent_frames(system))
    assert sorted(r.frame_id for r in second.raw) == sorted(r.frame_id for r in first.raw)
    assert second.typed == first.typed
    assert observe(system).dead == first.dead
