"""The simulator's server as a process: handshake rules, init timeout, HTTP control surface."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from testsupport.simulator_process import API_KEY, SimulatorProcess, wait_until


def http(url: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_http_surface(start_simulator: Callable[..., SimulatorProcess]) -> None:
    sim = start_simulator("--rate", "10")
    control = f"http://127.0.0.1:{sim.control_port}"
    assert http(f"http://127.0.0.1:{sim.port}/health") == (200, {"status": "ok"})
    assert http(f"http://127.0.0.1:{sim.port}/stats")[1]["connections"] == 0
    status, body = http(f"http://127.0.0.1:{sim.port}/elsewhere")
    assert status == 404 and "/partner/connections/graphql/" in body["error"]
    assert http(f"{control}/faults/silence?seconds=soon", "POST")[0] == 400
    assert http(f"{control}/faults/close?code=42", "POST")[0] == 400
    assert http(f"{control}/faults/explode", "POST")[0] == 404
    status, body = http(f"{control}/faults/duplicate?count=2", "POST")
    assert status == 200 and body == {"fault": "duplicate", "result": 2}
    assert http(f"{control}/stats")[1]["faults"] == {"duplicate": 1}


def test_wrong_key_on_upgrade_is_refused(start_simulator: Callable[..., SimulatorProcess]) -> None:
    sim = start_simulator()

    async def attempt() -> int:
        try:
            async with connect(sim.url, additional_headers={"Authorization": "Api-Key nope"}):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(attempt()) == 401


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_init_timeout_closes_4408(
    start_simulator: Callable[..., SimulatorProcess], protocol: str
) -> None:
    sim = start_simulator("--init-timeout", "0.5")

    async def idle() -> tuple[str | None, int | None]:
        async with connect(sim.url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]  # websockets wants its Subprotocol NewType
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except ConnectionClosed as exc:
                return ws.subprotocol, exc.rcvd.code if exc.rcvd else None
        return ws.subprotocol, None

    assert asyncio.run(idle()) == (protocol, 4408)
    wait_until(lambda: sim.stats()["closes"].get("4408") == 1, 10, "4408 counted")


def test_keepalives_and_data_over_a_raw_socket(
    start_simulator: Callable[..., SimulatorProcess],
) -> None:
    sim = start_simulator("--keepalive", "0.2", "--rate", "50", "--protocols", "graphql-ws")

    async def session() -> list[dict[str, Any]]:
        async with connect(sim.url, subprotocols=["graphql-transport-ws", "graphql-ws"]) as ws:  # type: ignore[list-item]  # websockets wants its Subprotocol NewType
            assert ws.subprotocol == "graphql-ws"
            init = {"type": "connection_init", "payload": {"authorization": f"Api-Key {API_KEY}"}}
            await ws.send(json.dumps(init))
            query = "subscription P { onPoolTotalChanged { productId } }"
            await ws.send(json.dumps({"id": "a", "type": "start", "payload": {"query": query}}))
            frames: list[dict[str, Any]] = []
            while not (
                any(f["type"] == "data" for f in frames)
                and sum(f["type"] == "ka" for f in frames) >= 3
            ):
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            return frames

    frames = asyncio.run(session())
    assert frames[0] == {"type": "connection_ack"}
    data = next(f for f in frames if f["type"] == "data")
    assert data["id"] == "a" and "productId" in data["payload"]["data"]["onPoolTotalChanged"]
