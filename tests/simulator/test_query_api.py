"""The simulator's query API and state: pure functions over a generated day, then the HTTP
surface of a running simulator (auth, pagination, faults, ``GET /state``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from contract.queries import EVENTS_QUERY, PRODUCTS_QUERY, page_info, variables
from simulator.query_api import answer, decode_cursor, encode_cursor, handle, root_field
from simulator.racing import Message, RaceDay
from simulator.state import DayState
from testsupport.simulator_process import API_KEY, SimulatorProcess, wait_until

DAY = date(2026, 11, 30)


def _day(messages: int, seed: int = 3) -> tuple[DayState, list[Message]]:
    state = DayState()
    stream = RaceDay(seed, start=DAY, on_meeting=state.add_meeting).messages()
    sent = list(itertools.islice(stream, messages))
    for message in sent:
        state.apply(message)
    return state, sent


def _all_pages(state: DayState, operation: str, first: int) -> list[dict[str, Any]]:
    document = PRODUCTS_QUERY if operation == "products" else EVENTS_QUERY
    nodes, after, pages = [], None, 0
    while True:
        body = answer(state, document, variables(operation, DAY, first, after))
        assert "errors" not in body, body
        pages += 1
        nodes += body["data"][operation]["nodes"]
        more, after = page_info(body, operation)
        if not more:
            return nodes
        assert pages < 100


def test_root_field_and_cursors() -> None:
    assert root_field(PRODUCTS_QUERY) == "products"
    assert root_field(EVENTS_QUERY) == "events"
    assert root_field("{ alias: events(first: 1) { nodes { id } } }") == "events"
    cursor = encode_cursor("products", 50)
    assert decode_cursor("products", cursor) == 50
    for bad in ("nonsense!", encode_cursor("events", 3), ""):
        with pytest.raises(ValueError, match="cursor"):
            decode_cursor("products", bad)


def test_pagination_covers_every_entity_once_whatever_the_page_size() -> None:
    state, _ = _day(400)
    for operation in ("products", "events"):
        ids = [n["id"] for n in _all_pages(state, operation, 7)]
        assert len(ids) == len(set(ids)) > 7
        assert ids == [n["id"] for n in _all_pages(state, operation, 500)]
    assert len(_all_pages(state, "events", 3)) == len(state.events_between(None, None))


def test_the_answer_is_the_state_the_stream_left() -> None:
    state, sent = _day(600)
    products = {n["id"]: n for n in _all_pages(state, "products", 50)}
    events = {n["id"]: n for n in _all_pages(state, "events", 50)}
    # The last message about each entity is what the query shows.
    last_total = {
        m.payload["productId"]: m.payload for m in sent if m.field == "onPoolTotalChanged"
    }
    for pid, payload in last_total.items():
        pool = products[pid]["type"]["pool"]["total"]
        assert (
            pool["grossAmount"]["decimalAmount"]
            == payload["total"]["grossAmounts"][0]["decimalAmount"]
        )
        assert (
            pool["netAmount"]["decimalAmount"] == payload["total"]["netAmounts"][0]["decimalAmount"]
        )
    last_status = {
        m.payload["productId"]: m.payload["status"]
        for m in sent
        if m.field == "onProductStatusChanged"
    }
    assert last_status and all(
        products[p]["type"]["selling"]["status"] == s for p, s in last_status.items()
    )
    last_event = {
        m.payload["eventId"]: m.payload["status"] for m in sent if m.field == "onEventStatusChanged"
    }
    assert last_event and all(events[e]["status"] == s for e, s in last_event.items())
    withdrawn = [m.payload for m in sent if m.field == "onSelectionStatusChanged"]
    for w in withdrawn:
        leg = next(
            leg
            for leg in products[w["productId"]]["type"]["legs"]["nodes"]
            if leg["id"] == w["legId"]
        )
        sel = next(s for s in leg["selections"]["nodes"] if s["id"] == w["selectionId"])
        assert sel["status"] == "NOT_AVAILABLE" and sel["name"] and " " in sel["name"]
    results = [m.payload for m in sent if m.field == "onEventResultChanged"]
    assert results, "600 messages should finish a race"
    for r in results:
        node = events[r["eventId"]]["result"]
        assert node["status"] in ("PROVISIONAL", "FINAL")
        assert [n["id"] for n in node["results"]["nodes"]] == [
            c["competitorId"] for c in r["competitorResults"]
        ]
    dividends = [m.payload for m in sent if m.field == "onPoolDividendChanged"]
    assert dividends
    for d in dividends:
        nodes = products[d["productId"]]["type"]["result"]["dividends"]["nodes"]
        assert [n["dividend"] for n in nodes] == [x["dividend"] for x in d["dividends"]]
    # Realistic reference data: venue, names, start times, runners with cloth numbers.
    event = next(iter(events.values()))
    assert event["venue"]["name"] and event["venue"]["country"]["alpha2Code"] in ("GB", "IE")
    assert (
        datetime.fromisoformat(
            event["scheduledStartDateTime"]["iso8601"].replace("Z", "+00:00")
        ).date()
        == DAY
    )
    runners = event["eventCompetitors"]["nodes"]
    assert [r["details"]["clothNumber"] for r in runners] == list(range(1, len(runners) + 1))
    assert all(r["id"].startswith(event["id"]) for r in runners)
    product = next(iter(products.values()))
    assert " RACE " in product["name"] or "PLACEPOT" in product["name"]
    assert product["type"]["betType"]["code"] in ("WIN", "PLACE", "EXACTA", "TRIFECTA", "PLACEPOT")


def test_snapshot_matches_the_query_answer() -> None:
    state, _ = _day(500)
    snap = state.snapshot(DAY)
    products = _all_pages(state, "products", 50)
    assert set(snap["ProductStatusChanged"]) == {p["id"] for p in products}
    for p in products:
        assert snap["ProductStatusChanged"][p["id"]]["status"] == p["type"]["selling"]["status"]
        gross = p["type"]["pool"]["total"]["grossAmount"]["decimalAmount"]
        assert snap["PoolTotalChanged"][p["id"]]["gross"] == gross
    competitors = sum(len(e["eventCompetitors"]["nodes"]) for e in _all_pages(state, "events", 50))
    assert len(snap["CompetitorStatusChanged"]) == competitors
    assert snap == state.snapshot(DAY)  # reading changes nothing
    assert state.snapshot(date(2020, 1, 1))["ProductStatusChanged"] == {}


def test_other_days_and_bad_arguments() -> None:
    state, _ = _day(50)
    other = answer(state, PRODUCTS_QUERY, variables("products", date(2026, 12, 25), 50, None))
    assert other["data"]["products"] == {
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "nodes": [],
    }
    assert "errors" in answer(state, PRODUCTS_QUERY, {"first": 0})
    assert "errors" in answer(state, PRODUCTS_QUERY, {"first": 50, "after": "garbage"})
    assert "errors" in answer(state, PRODUCTS_QUERY, {"date": "tomorrow"})
    assert "errors" in answer(state, "{ bets { nodes { id } } }", {})


def test_handle_checks_the_key_and_echoes_the_request_id() -> None:
    state, _ = _day(10)
    body = json.dumps({"query": EVENTS_QUERY, "variables": {"first": 2}}).encode()

    def run(fn: Callable[[DayState], object]) -> object:
        return fn(state)

    status, headers, data = handle(None, "abc123", body, API_KEY, run)
    assert status == 401 and headers["X-Partner-Request-ID"] == "abc123"
    status, _, _ = handle("Api-Key wrong", None, body, API_KEY, run)
    assert status == 401
    status, headers, data = handle(f"Api-Key {API_KEY}", "not valid!", body, API_KEY, run)
    assert status == 200 and headers["X-Partner-Request-ID"].isalnum()
    assert len(json.loads(data)["data"]["events"]["nodes"]) == 2
    assert handle(f"Api-Key {API_KEY}", None, b"{nope", API_KEY, run)[0] == 400


# -- the running simulator --------------------------------------------------------------------------


def _post(
    url: str, payload: dict[str, Any] | None, key: str | None = API_KEY
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    data = json.dumps(payload).encode() if payload is not None else b""
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Api-Key {key}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def test_query_api_over_http_with_faults_and_state(
    start_simulator: Callable[..., SimulatorProcess],
) -> None:
    sim = start_simulator("--rate", "5", "--advance", "300", "--day", DAY.isoformat())
    base = f"http://127.0.0.1:{sim.control_port}"
    url = f"{base}/partner/gateway/graphql"
    query = {"query": PRODUCTS_QUERY, "variables": variables("products", DAY, 10, None)}
    assert _post(url, query, key=None)[0] == 401
    assert _post(url, query, key="wrong")[0] == 401
    status, headers, body = _post(url, query)
    assert status == 200 and headers["X-Partner-Request-ID"]
    assert (
        len(body["data"]["products"]["nodes"]) == 10
        and body["data"]["products"]["pageInfo"]["hasNextPage"]
    )

    assert _post(f"{base}/faults/query-rate-limit?count=1&retry_after=3", None)[0] == 200
    status, headers, _ = _post(url, query)
    assert status == 429 and headers["Retry-After"] == "3"
    assert _post(f"{base}/faults/query-error?status=503&count=1", None)[0] == 200
    assert _post(url, query)[0] == 503
    assert _post(url, query)[0] == 200  # faults were for one request each
    assert _post(f"{base}/faults/query-error?status=404", None)[0] == 400  # only 5xx

    with urllib.request.urlopen(f"{base}/stats", timeout=10) as resp:
        stats = json.loads(resp.read())
    assert stats["advanced"] == 300 and stats["day"] == DAY.isoformat()
    assert stats["query"]["served"] == {"401": 2, "200": 2, "429": 1, "503": 1}
    with urllib.request.urlopen(f"{base}/state?day={DAY.isoformat()}", timeout=10) as resp:
        state = json.loads(resp.read())
    # --advance ran part of the day before anyone connected: some races are under way.
    assert any(v["status"] != "UNKNOWN" for v in state["ProductStatusChanged"].values())
    assert len(state["ProductStatusChanged"]) > 10


def test_deaf_sockets_and_outages_lose_messages_while_the_day_goes_on(
    start_simulator: Callable[..., SimulatorProcess],
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    sim = start_simulator("--keepalive", "0.2", "--rate", "50", "--protocols", "graphql-ws")
    base = f"http://127.0.0.1:{sim.control_port}"

    async def deaf_session() -> tuple[int, int]:
        async with connect(sim.url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]  # websockets wants its Subprotocol NewType
            init = {"type": "connection_init", "payload": {"authorization": f"Api-Key {API_KEY}"}}
            await ws.send(json.dumps(init))
            query = "subscription P { onPoolTotalChanged { productId } }"
            await ws.send(json.dumps({"id": "a", "type": "start", "payload": {"query": query}}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "data":
                pass
            before = sim.stats()
            assert _post(f"{base}/faults/deaf?seconds=1.5", None)[2]["result"] == 1
            # Drain what was already in flight, then nothing at all arrives while deaf...
            heard_while_deaf = 0
            with contextlib.suppress(TimeoutError):
                while True:
                    await asyncio.wait_for(ws.recv(), 0.5)
                    heard_while_deaf += 1
            after = sim.stats()
            assert after["lost_while_unheard"] > before["lost_while_unheard"]
            assert after["generated"] > before["generated"]  # ...while the day went on
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))  # and then it hears again
            return heard_while_deaf, after["lost_while_unheard"]

    heard, lost = asyncio.run(deaf_session())
    assert lost > 0 and heard < 30

    assert _post(f"{base}/faults/outage?seconds=30", None)[0] == 200

    async def refused() -> int:
        try:
            async with connect(sim.url, subprotocols=["graphql-ws"]):  # type: ignore[list-item]  # websockets wants its Subprotocol NewType
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(refused()) == 503
    generated = sim.stats()["generated"]
    wait_until(lambda: sim.stats()["generated"] > generated + 10, 10, "the day going on")


def test_always_run_keeps_the_day_going_with_nobody_listening(
    start_simulator: Callable[..., SimulatorProcess],
) -> None:
    sim = start_simulator("--rate", "100", "--always-run")
    stats = wait_until(lambda: (s := sim.stats())["generated"] >= 20 and s, 20, "generation")
    assert stats["connections"] == 0 and stats["lost_while_unheard"] >= 20
    assert stats["frames_sent_total"] == 0
