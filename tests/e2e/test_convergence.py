"""Convergence by query: after messages are lost at the source (Tote never replays), the
reconciliation sweep that follows the reconnect brings every entity's latest state — in
BigQuery and on the SSE stream — back to the simulator's truth; and a sweep over unchanged
state emits nothing.

Each test runs the real system (simulator with its query API, connector with sweeps, pipeline on
the direct runner, web app) on the shared emulators: the pipeline turns query pages into typed
events (``pipeline/query_pages.py``) and its semantic dedup compares normalised state, so an
unchanged entity in a page is not news.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from contract import catalog
from devstack.provision import ensure_subscription, provision_pubsub
from devstack.system import LocalSystem, Ports
from tests.e2e.convergence import (
    differences,
    expected_state,
    key_of,
    latest_from_bigquery,
    latest_from_messages,
)
from tests.e2e.harness import SseClient, captured_frames, raw_count, wait_for_simulator_done
from tests.pipeline.pubsub_helpers import TopicReader
from webapp.events import EventKey

pytestmark = [pytest.mark.emulator, pytest.mark.bigquery, pytest.mark.slow]

PROBE_CUSTOMER_BET_ID = "tote-realtime-readiness-probe"  # devstack/pipeline_process.py
FRAMES = 400
RATE = 60.0
CONNECTOR_ENV = {
    "WATCHDOG_SECONDS": "2",
    "SWEEP_PERIOD_SECONDS": "0",  # only the sweeps the tests cause
    "SWEEP_PAGE_SIZE": "50",
    "BACKOFF_BASE_SECONDS": "0.2",
}


@pytest.fixture
def make_system(
    pubsub_emulator, bigquery_emulator, tmp_path, request
) -> Iterator[Callable[..., tuple[LocalSystem, TopicReader, SseClient]]]:
    started: list[tuple[LocalSystem, TopicReader, list[SseClient]]] = []

    def make(**kwargs: Any) -> tuple[LocalSystem, TopicReader, SseClient]:
        project = "cv-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
        # Keep-alives well inside the 2 s watchdog: once the simulator's day is done only they
        # flow, and the connector must not reconnect (and sweep) for want of traffic.
        simulator_args = ("--keepalive", "0.5", *kwargs.pop("simulator_args", ()))
        options = {
            "seed": 11,
            "rate": RATE,
            "max_frames": FRAMES,
            "connector_env": dict(CONNECTOR_ENV),
            "simulator_args": simulator_args,
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
        reader = TopicReader(project, "cv")
        clients: list[SseClient] = []
        started.append((system, reader, clients))
        system.start()
        # From the web app's first event (an origin id before any data), so the stream holds
        # every entity's history: what the start-up sweep brought before this client connected
        # included.  (An id that is not one of the web app's means "live only".)
        sse = SseClient(f"{system.webapp_url}/events", last_event_id=str(EventKey.origin(0)))
        clients.append(sse)
        return system, reader, sse

    yield make
    for system, reader, clients in started:
        for client in clients:
            client.close()
        system.stop()
        reader.close()


def _wait_sent(system: LocalSystem, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while system.simulator_stats()["frames_sent_total"] < at_least:
        assert time.monotonic() < deadline, system.simulator_stats()
        time.sleep(0.1)


def _sweep_after_last_connect(system: LocalSystem, timeout: float = 60) -> dict[str, Any]:
    """The connector's status once a sweep that started after the current connection's
    subscribe has finished."""
    deadline = time.monotonic() + timeout
    while True:
        status = system.connector_status()
        last, since = status["sweeps"]["last"], status["connected_since"]
        if last and since and last["started_at"] >= since and not status["sweeps"]["in_progress"]:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.3)


def _wait_stored(system: LocalSystem, timeout: float = 120) -> None:
    """Every message the connector forwarded (frames and pages) is in ``raw_frames``."""
    deadline = time.monotonic() + timeout
    while raw_count(system) < len(captured_frames(system)):
        assert time.monotonic() < deadline, (raw_count(system), len(captured_frames(system)))
        time.sleep(0.5)


def assert_converged(system: LocalSystem, sse: SseClient, timeout: float = 120) -> None:
    """BigQuery's and the SSE stream's latest state of every entity equal the simulator's."""
    # The stream replayed from the web app's first event: no "live only" answer to its id.
    assert all(gap["reason"] != "unknown-id" for gap in sse.gaps), sse.gaps
    wait_for_simulator_done(system, timeout=180)
    _sweep_after_last_connect(system)
    _wait_stored(system)
    truth = expected_state(system.simulator_state())
    client = system.bq.client(system.project)
    deadline = time.monotonic() + timeout
    while True:
        stored = differences(truth, latest_from_bigquery(client, system.project, system.dataset))
        streamed = differences(truth, latest_from_messages(e.data for e in list(sse.events)))
        if (not stored and not streamed) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert stored == [], "BigQuery differs from the simulator:\n" + "\n".join(stored)
    assert streamed == [], (
        "SSE differs from the simulator:\n"
        + "\n".join(streamed)
        + "\n"
        + _explain_streamed(system, sse, streamed)
    )


def _explain_streamed(system: LocalSystem, sse: SseClient, problems: list[str]) -> str:
    """What the stream and the typed table hold for the first wrong entity, and the web app's
    bus counters: enough to tell a lost message from a misordered one."""
    import json
    import urllib.request

    message_type, _, rest = problems[0].partition(" ")
    entity = rest.split(":", 1)[0]
    spec = catalog.by_name(message_type)
    assert spec is not None and spec.table

    def brief(source: dict[str, Any]) -> dict[str, Any]:
        data = source.get("data") or source
        status = {k: v for k, v in data.items() if k.endswith("status")}
        return {
            "as_of": str(source.get("as_of")),
            "received_at": str(source.get("received_at")),
            "source": source.get("source"),
            "frame_id": source.get("frame_id"),
            **status,
        }

    streamed = [
        {"id": e.id, **brief(e.data)}
        for e in list(sse.events)
        if e.data.get("message_type") == message_type
        and key_of(message_type, e.data.get("data") or {}) == entity
    ]
    client = system.bq.client(system.project)
    rows = [
        brief(dict(row.items()))
        for row in client.query(
            f"SELECT * FROM `{system.project}.{system.dataset}.{spec.table}`"
        ).result()
        if key_of(message_type, dict(row.items())) == entity
    ]
    with urllib.request.urlopen(f"{system.webapp_url}/status", timeout=10) as resp:
        status = json.loads(resp.read())
    return (
        f"streamed for {entity}: {streamed}\nstored: {rows}\n"
        f"SSE stream open: {sse.is_open()}, gaps {sse.gaps}\nweb app: {status}"
    )


def _drain(reader: TopicReader) -> None:
    """Pull every typed topic until two rounds in a row bring nothing."""
    empty = 0
    while empty < 2:
        empty = empty + 1 if reader.pull_once() == 0 else 0


def _sse_caught_up(sse: SseClient, reader: TopicReader, timeout: float = 60) -> None:
    """Wait until the SSE stream has delivered every typed message the topics carried (the
    stream trails the topics by the web app's reorder delay and its replay)."""
    import json

    published = {
        (m["frame_id"], m["key"])
        for r in reader.received
        if r.topic != catalog.DEAD_LETTER_TOPIC
        for m in [json.loads(r.data)]
        # The pipeline's readiness probe flows before the web app's stream is opened.
        if (m.get("payload") or {}).get("customerBetId") != PROBE_CUSTOMER_BET_ID
    }
    deadline = time.monotonic() + timeout
    while True:
        streamed = {(e.data.get("frame_id"), e.data.get("key")) for e in list(sse.events)}
        missing = published - streamed
        if not missing:
            return
        assert time.monotonic() < deadline, f"{len(missing)} typed messages never streamed: " + str(
            [
                json.loads(r.data)
                for r in reader.received
                if r.topic != catalog.DEAD_LETTER_TOPIC
                and (r.attributes.get("frame_id"), json.loads(r.data).get("key")) in missing
            ][:3]
        )
        time.sleep(0.2)


def _lost(system: LocalSystem) -> int:
    return system.simulator_stats()["lost_while_unheard"]


def test_silent_socket_then_sweep_converges(make_system):
    system, _reader, sse = make_system()
    _wait_sent(system, FRAMES // 3)
    system.simulator_post("/faults/deaf?seconds=60")  # this socket never hears again
    deadline = time.monotonic() + 60
    while system.connector_status()["reconnects"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert _lost(system) > 0, "the deaf socket should have missed messages"
    assert_converged(system, sse)


def test_dropped_connection_then_sweep_converges(make_system):
    system, _reader, sse = make_system()
    _wait_sent(system, FRAMES // 3)
    system.simulator_post("/faults/outage?seconds=3")  # dropped; the day goes on meanwhile
    deadline = time.monotonic() + 60
    while system.connector_status()["reconnects"] < 1 or _lost(system) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert_converged(system, sse)
    assert system.connector_status()["sweeps"]["triggers"].get("subscribed", 0) >= 2


def test_late_start_converges(make_system):
    system, _reader, sse = make_system(simulator_args=("--advance", "600"))
    assert system.simulator_stats()["advanced"] == 600
    assert_converged(system, sse)
    sweeps = system.connector_status()["sweeps"]
    assert sweeps["failed"] == 0 and sweeps["triggers"].get("subscribed", 0) >= 1


def test_a_sweep_over_unchanged_state_emits_nothing(make_system):
    system, reader, sse = make_system(simulator_args=("--advance", "600"))
    assert_converged(system, sse)
    references = TopicReader(system.project, "cv-ref")
    references.subs = {
        catalog.REFERENCE_TOPIC: ensure_subscription(
            system.project, catalog.REFERENCE_TOPIC, "cv-ref-reference"
        )
    }
    try:
        # The stream's last messages changed entities since the subscribe's sweep, so the
        # reference data (names with their status) of the first sweep now is news; after it,
        # nothing changes any more (the simulator is done).
        _sweep_through(system)
        _quiesce(system, reader, references, sse)
        typed_before, sse_before = len(reader.received), len(sse.events)
        unchanged_before = _webapp_events(system)["unchanged_reference"]
        references_before = len(references.received)

        pages = _sweep_through(system)  # the sweep over unchanged state: its pages are stored
        _quiesce(system, reader, references, sse)
        assert pages >= 2
        # The pipeline deduplicates reference records per (kind, id) on their values too, so an
        # unchanged sweep republishes no reference record either (and the web app streams none).
        arrived = references.received[references_before:]
        assert arrived == [], f"{len(arrived)} reference message(s) from an unchanged sweep"
        assert _webapp_events(system)["unchanged_reference"] == unchanged_before
        new = reader.received[typed_before:]
        assert new == [], f"{len(new)} typed message(s) from an unchanged sweep: {new[:3]}"
        streamed = sse.events[sse_before:]
        assert streamed == [], (
            f"{len(streamed)} SSE event(s) from an unchanged sweep: {streamed[:3]}"
        )
    finally:
        references.close()


def _sweep_through(system: LocalSystem) -> int:
    """``POST /reconcile``, wait until that sweep is done and its pages are stored raw; returns
    its page count."""
    before = system.connector_status()["sweeps"]["sweeps"]
    stored = raw_count(system)
    system.connector_post("/reconcile")
    deadline = time.monotonic() + 60
    while system.connector_status()["sweeps"]["sweeps"] <= before:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status = system.connector_status()["sweeps"]
    assert status["sweeps"] == before + 1, status
    pages = status["last"]["pages_total"]
    _wait_stored(system)
    assert raw_count(system) == stored + pages
    return pages


def _webapp_events(system: LocalSystem) -> dict[str, Any]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{system.webapp_url}/status", timeout=10) as resp:
        return json.loads(resp.read())["events"]


def _quiesce(
    system: LocalSystem, reader: TopicReader, references: TopicReader, sse: SseClient
) -> None:
    """Drain the topics, then wait until the web app holds nothing back and has streamed every
    typed message."""
    _drain(reader)
    _drain(references)
    deadline = time.monotonic() + 60
    while _webapp_events(system)["held"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    _sse_caught_up(sse, reader)
