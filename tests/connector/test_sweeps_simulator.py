"""Sweeps through the whole connector (control API, service, client loop) against the real
simulator process; Pub/Sub is a recording fake so the test needs no emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector import api
from connector.api import create_app
from connector.settings import Settings
from contract import ingress
from contract.queries import racing_day
from testsupport.simulator_process import API_KEY, SimulatorProcess, wait_until

TOKEN = "sweep-control-token-1"


class RecordingPublisher:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self._lock = threading.Lock()

    def publish_batch(self, messages: Sequence[tuple[bytes, dict[str, str]]]) -> list[str]:
        with self._lock:
            self.messages.extend(messages)
            return [str(len(self.messages) - i) for i in range(len(messages))]

    def pages(self) -> list[tuple[bytes, dict[str, str]]]:
        with self._lock:
            return [
                m for m in self.messages if m[1].get(ingress.ATTR_SOURCE) == ingress.SOURCE_QUERY
            ]

    def frames(self) -> int:
        with self._lock:
            return sum(1 for m in self.messages if ingress.ATTR_SOURCE not in m[1])


@pytest.fixture
def connector(
    start_simulator,
) -> Iterator[Callable[..., tuple[FlaskClient, RecordingPublisher, SimulatorProcess]]]:
    def make(
        *sim_args: str, **over: Any
    ) -> tuple[FlaskClient, RecordingPublisher, SimulatorProcess]:
        sim = start_simulator(
            "--rate", "20", "--day", racing_day(datetime.now(UTC)).isoformat(), *sim_args
        )
        values: dict[str, Any] = {
            "tote_url": sim.url,
            "api_key": API_KEY,
            "control_token": TOKEN,
            "graphql_url": f"http://127.0.0.1:{sim.control_port}/partner/gateway/graphql",
            "sweep_page_size": 10,
            "sweep_hours": "00:00-24:00",
            "ack_timeout_seconds": 2.0,
            "backoff_base_seconds": 0.05,
            **over,
        }
        publisher = RecordingPublisher()
        app = create_app(Settings(**values), publisher=publisher)
        return app.test_client(), publisher, sim

    yield make
    api.shutdown_services()


def _status(client: FlaskClient) -> dict[str, Any]:
    return client.get("/status").get_json()


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_sweeps_run_after_subscribe_and_on_reconcile_and_forward_every_page(connector) -> None:
    client, publisher, sim = connector("--advance", "400")
    assert client.post("/reconcile").status_code == 401  # same auth as /start
    assert client.post("/reconcile", headers=_auth()).status_code == 409  # not running yet
    assert client.post("/start", headers=_auth()).status_code == 200
    first = wait_until(lambda: _status(client)["sweeps"]["last"] or None, 30, "the first sweep")
    assert first["trigger"] in ("subscribed", "start", "start+subscribed")
    assert (
        first["errors"] == [] and first["pages"]["products"] >= 2 and first["pages"]["events"] >= 1
    )

    resp = client.post("/reconcile", headers=_auth())
    assert resp.status_code == 202 and resp.get_json()["accepted"] is True
    status = wait_until(
        lambda: (
            (s := _status(client))["sweeps"]["triggers"].get("manual")
            and s["sweeps"]["sweeps"] >= 2
            and s
        ),
        30,
        "the manual sweep",
    )
    sweeps = status["sweeps"]
    assert sweeps["last"]["trigger"] == "manual" and sweeps["failed"] == 0
    assert API_KEY not in json.dumps(status)

    wait_until(lambda: len(publisher.pages()) >= sweeps["pages"], 10, "every page published")
    pages = publisher.pages()
    assert len(pages) == sweeps["pages"]
    by_sweep: dict[str, list[dict[str, str]]] = {}
    for data, attrs in pages:
        body = json.loads(data)
        operation = attrs[ingress.ATTR_OPERATION]
        assert operation in body["data"]
        by_sweep.setdefault(attrs[ingress.ATTR_SWEEP_ID], []).append(attrs)
    last = by_sweep[sweeps["last"]["sweep_id"]]
    assert sorted(a[ingress.ATTR_REQUEST_ID] for a in last) == sorted(sweeps["last"]["request_ids"])
    # Everything of today's card came through: the pages hold the simulator's products and events.
    products = {
        n["id"]
        for data, attrs in pages
        if attrs[ingress.ATTR_SWEEP_ID] == sweeps["last"]["sweep_id"]
        and attrs[ingress.ATTR_OPERATION] == "products"
        for n in json.loads(data)["data"]["products"]["nodes"]
    }
    state = sim._call("GET", "/state")
    assert products == set(state["ProductStatusChanged"])
    assert publisher.frames() > 0  # the websocket forwarded frames beside the sweeps
    assert sim.stats()["query"]["served"]["200"] == sweeps["pages"]


def test_rate_limits_are_retried_and_failing_sweeps_leave_the_websocket_alone(connector) -> None:
    client, publisher, sim = connector(sweep_retries=1)
    sim.fault("query-rate-limit?count=1&retry_after=0.2")
    assert client.post("/start", headers=_auth()).status_code == 200
    first = wait_until(lambda: _status(client)["sweeps"]["last"], 30, "the first sweep")
    assert first["errors"] == []  # the 429 was retried after Retry-After
    assert sim.stats()["query"]["served"]["429"] == 1

    sim.fault("query-error?status=503&count=1000")
    connections = _status(client)["connections"]
    frames = publisher.frames()
    assert client.post("/reconcile", headers=_auth()).status_code == 202
    status = wait_until(
        lambda: (s := _status(client))["sweeps"]["failed"] >= 1 and s, 30, "the failed sweep"
    )
    last = status["sweeps"]["last"]
    assert any("HTTP 503" in e for e in last["errors"]) and len(last["errors"]) == 2
    # The socket stayed up and kept forwarding.
    wait_until(lambda: publisher.frames() > frames + 10, 30, "frames after the failed sweep")
    assert _status(client)["connections"] == connections and _status(client)["state"] == "connected"


def test_reconcile_without_a_graphql_url_says_sweeps_are_off() -> None:
    publisher = RecordingPublisher()
    app = create_app(
        Settings(tote_url="ws://127.0.0.1:9/x/", api_key=API_KEY, control_token=TOKEN),
        publisher=publisher,
    )
    client = app.test_client()
    try:
        resp = client.post("/reconcile", headers=_auth())
        assert resp.status_code == 409
        assert "TOTE_GRAPHQL_URL" in resp.get_json()["error"]
        status = _status(client)
        assert status["sweeps"] == {"enabled": False} and status["graphql_url"] is None
    finally:
        api.shutdown_services()


def test_a_slow_answer_times_out_and_is_retried(connector) -> None:
    client, _publisher, sim = connector(sweep_timeout_seconds=0.5, sweep_concurrency=1)
    sim.fault("query-slow?seconds=2&count=1")
    assert client.post("/start", headers=_auth()).status_code == 200
    first = wait_until(lambda: _status(client)["sweeps"]["last"], 30, "the first sweep")
    assert first["errors"] == []
    # The timed-out attempt had its own request id; the retry's is the one in the record.
    assert len(first["request_ids"]) == first["pages_total"]
    # The server answered the abandoned request too (late): one more than the pages kept.
    wait_until(
        lambda: sim.stats()["query"]["served"].get("200") == _status(client)["sweeps"]["pages"] + 1,
        10,
        "the slow answer",
    )
