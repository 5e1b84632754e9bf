"""Query sweeps without any server: the decisions as pure functions, the HTTP shell against
``httpx.MockTransport``, and the scheduler with a fake forwarder (fast, no emulator)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import httpx
import pytest

from connector.forwarder import Frame
from connector.query_client import (
    MAX_RETRY_AFTER,
    QueryClient,
    QueryError,
    new_request_id,
    parse_retry_after,
    retry_delay,
    retryable,
)
from connector.settings import Settings, SettingsError
from connector.sweeps import (
    SweepConfig,
    Sweeps,
    format_hours,
    in_racing_hours,
    parse_hours,
    periodic_delay,
)
from contract import ingress
from contract.queries import EVENTS_QUERY, PRODUCTS_QUERY, day_window

KEY = "sweep-key-5b7e0c11"
URL = "http://tote.test/partner/gateway/graphql"


# -- pure decisions ---------------------------------------------------------------------------------


def test_request_ids_are_fresh_alphanumeric_and_short() -> None:
    ids = {new_request_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[0-9a-zA-Z]{1,100}", i) for i in ids)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, False), (400, False), (401, False), (404, False), (429, True), (500, True), (503, True)],
)
def test_only_rate_limits_and_server_errors_are_retried(status: int, expected: bool) -> None:
    assert retryable(status) is expected


def test_retry_after_seconds_dates_and_garbage() -> None:
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Mon, 30 Nov 2026 12:00:07 GMT", now) == 7.0
    assert parse_retry_after("Mon, 30 Nov 2026 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("999999", now) == MAX_RETRY_AFTER
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None and parse_retry_after(" ", now) is None


def test_retry_delay_honours_retry_after_else_full_jitter_capped() -> None:
    assert retry_delay(1, 4.0, 0.5, 30, draw=lambda: 0.0) == 4.0
    assert retry_delay(1, 4.0, 0.5, 30, draw=lambda: 1.0) == pytest.approx(4.4)
    assert retry_delay(1, None, 0.5, 30, draw=lambda: 0.999) == pytest.approx(0.4995)
    assert retry_delay(3, None, 0.5, 30, draw=lambda: 0.5) == pytest.approx(1.0)
    assert retry_delay(40, None, 0.5, 30, draw=lambda: 0.999) <= 30
    assert retry_delay(2, None, 0.5, 30, draw=lambda: 0.0) == 0.0


def test_racing_hours_are_london_wall_clock() -> None:
    hours = parse_hours("06:00-23:00")
    assert (hours.start, hours.end, hours.zone.key) == (dtime(6), dtime(23), "Europe/London")
    assert format_hours(hours) == "06:00-23:00"
    assert format_hours(parse_hours("00:00-24:00")) == "00:00-24:00"
    assert in_racing_hours(datetime(2026, 11, 30, 23, 59, tzinfo=UTC), parse_hours("00:00-24:00"))
    # 05:30 UTC in summer is 06:30 BST (in), in winter 05:30 GMT (out).
    assert in_racing_hours(datetime(2026, 7, 1, 5, 30, tzinfo=UTC), hours)
    assert not in_racing_hours(datetime(2026, 11, 30, 5, 30, tzinfo=UTC), hours)
    assert not in_racing_hours(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), hours)
    for bad in ("6-23", "06:00", "x-y", "25:00-26:00"):
        with pytest.raises(ValueError, match="window"):
            parse_hours(bad)


def test_periodic_delay_stays_within_the_jitter_band() -> None:
    assert periodic_delay(300, 0.1, draw=lambda: 0.0) == pytest.approx(270)
    assert periodic_delay(300, 0.1, draw=lambda: 0.5) == pytest.approx(300)
    assert periodic_delay(300, 0.1, draw=lambda: 0.999999) == pytest.approx(330, abs=0.01)
    assert periodic_delay(300, 0.0, draw=lambda: 0.9) == 300


# -- settings ------------------------------------------------------------------------------------------


def test_sweep_settings_defaults_and_variables() -> None:
    s = Settings.from_env({})
    assert s.graphql_url == "" and s.sweep_page_size == 50 and s.sweep_period_seconds == 300
    assert s.sweep_hours == "06:00-23:00" and s.partner_id == "tote-realtime"
    s = Settings.from_env(
        {
            "TOTE_GRAPHQL_URL": "https://u:pw-7777777@hub.example/partner/gateway/graphql?k=q-99999",
            "TOTE_API_KEY": KEY,
            "TOTE_PARTNER_ID": "acme",
            "SWEEP_PAGE_SIZE": "20",
            "SWEEP_PERIOD_SECONDS": "0",
            "SWEEP_HOURS": "00:00-24:00",
            "SWEEP_CONCURRENCY": "1",
        }
    )
    assert s.safe_graphql_url == "https://hub.example/partner/gateway/graphql"
    assert "pw-7777777" in s.secrets and "k=q-99999" in s.secrets
    config = s.sweep_config()
    assert config.authorization == f"Api-Key {KEY}" and config.partner_id == "acme"
    assert config.page_size == 20 and config.period == 0 and config.concurrency == 1
    assert format_hours(config.hours) == "00:00-24:00"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOTE_GRAPHQL_URL", "wss://hub.example/graphql"),
        ("SWEEP_PAGE_SIZE", "0"),
        ("SWEEP_HOURS", "23:00-26:00"),
        ("SWEEP_JITTER", "1.5"),
        ("SWEEP_PERIOD_SECONDS", "-1"),
    ],
)
def test_bad_sweep_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


# -- the HTTP shell -------------------------------------------------------------------------------------


class Recorder:
    """A MockTransport handler answering from a script of (status, headers, body) responses."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, headers, body = self.script.pop(0)
        headers = {"X-Partner-Request-ID": f"srv{len(self.requests)}", **headers}
        return httpx.Response(status, headers=headers, content=body)


def _client(handler: Any, sleeps: list[float], retries: int = 3) -> QueryClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return QueryClient(
        URL,
        f"Api-Key {KEY}",
        "acme",
        transport=httpx.MockTransport(handler),
        retries=retries,
        sleep=sleep,
    )


def test_query_client_sends_key_partner_and_a_fresh_request_id_per_attempt(caplog) -> None:
    ok = b'{"data":{"products":{"pageInfo":{"hasNextPage":false,"endCursor":"c"},"nodes":[]}}}'
    handler = Recorder([(429, {"Retry-After": "2"}, b"slow down"), (503, {}, b""), (200, {}, ok)])
    sleeps: list[float] = []
    caplog.set_level(logging.INFO, logger="connector.query_client")

    async def go() -> Any:
        client = _client(handler, sleeps)
        try:
            return await client.post(PRODUCTS_QUERY, {"first": 5}, operation="products", page=1)
        finally:
            await client.aclose()

    resp = asyncio.run(go())
    assert resp.status == 200 and resp.body == ok and resp.attempts == 3
    assert resp.server_request_id == "srv3"
    assert len(sleeps) == 2 and 2.0 <= sleeps[0] <= 2.2  # Retry-After honoured
    ids = [r.headers["X-Partner-Request-ID"] for r in handler.requests]
    assert len(set(ids)) == 3 and resp.request_id == ids[-1]
    for r in handler.requests:
        assert r.headers["Authorization"] == f"Api-Key {KEY}"
        assert r.headers["X-Partner-ID"] == "acme"
        body = json.loads(r.content)
        assert body == {"query": PRODUCTS_QUERY, "variables": {"first": 5}}
    logged = "\n".join(
        r.getMessage() + json.dumps(getattr(r, "json_fields", {})) for r in caplog.records
    )
    assert KEY not in logged
    assert all(i in logged for i in ids)  # every request id is logged
    assert "HTTP 429" in logged and "HTTP 200" in logged


def test_query_client_gives_up_on_a_final_status_without_retrying() -> None:
    handler = Recorder([(400, {}, b'{"errors":[{"message":"bad"}]}')])
    sleeps: list[float] = []

    async def go() -> None:
        client = _client(handler, sleeps)
        try:
            await client.post(EVENTS_QUERY, {}, operation="events", page=2)
        finally:
            await client.aclose()

    with pytest.raises(QueryError, match="events page 2: HTTP 400") as info:
        asyncio.run(go())
    assert info.value.status == 400 and sleeps == [] and len(handler.requests) == 1


def test_query_client_stops_after_its_retries() -> None:
    handler = Recorder([(500, {}, b"")] * 3)
    sleeps: list[float] = []

    async def go() -> None:
        client = _client(handler, sleeps, retries=2)
        try:
            await client.post(EVENTS_QUERY, {}, operation="events", page=1)
        finally:
            await client.aclose()

    with pytest.raises(QueryError, match="after 3 attempt"):
        asyncio.run(go())
    assert len(sleeps) == 2 and len(handler.requests) == 3


# -- sweeps ----------------------------------------------------------------------------------------------


class FakeForwarder:
    def __init__(self, capacity: int = 1000) -> None:
        self.frames: list[Frame] = []
        self.refused: list[str] = []
        self.capacity = capacity

    def offer(self, frame: Frame) -> bool:
        if len(self.frames) >= self.capacity:
            return False
        self.frames.append(frame)
        return True

    def refuse(self, frame: Frame, reason: str) -> None:
        self.refused.append(reason)


def _page(operation: str, ids: list[str], cursor: str | None, more: bool) -> bytes:
    body = {
        "data": {
            operation: {
                "pageInfo": {"hasNextPage": more, "endCursor": cursor},
                "nodes": [{"id": i} for i in ids],
            }
        }
    }
    # Deliberately not json.dumps' default spacing: the page must be forwarded byte for byte.
    return json.dumps(body, separators=(", ", ": ")).encode()


class PagedServer:
    """Serves ``pages[operation]`` in order, following ``after``; records each request."""

    def __init__(
        self, pages: dict[str, list[bytes]], fail: dict[tuple[str, int], int] | None = None
    ):
        self.pages = pages
        self.fail = fail or {}
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        operation = "products" if "products(" in body["query"] else "events"
        after = body["variables"]["after"]
        index = 0 if after is None else int(after.rsplit("-", 1)[1])
        self.requests.append(
            {"operation": operation, "variables": body["variables"], "headers": request.headers}
        )
        status = self.fail.get((operation, index + 1))
        if status:
            return httpx.Response(status, content=b"nope")
        return httpx.Response(200, content=self.pages[operation][index])


def _sweeps(handler: Any, forwarder: FakeForwarder, **config: Any) -> Sweeps:
    cfg = SweepConfig(URL, f"Api-Key {KEY}", "acme", **{"page_size": 2, "retries": 0, **config})

    def factory(c: SweepConfig) -> QueryClient:
        return QueryClient(
            c.url,
            c.authorization,
            c.partner_id,
            transport=httpx.MockTransport(handler),
            retries=c.retries,
        )

    return Sweeps(
        cfg, forwarder, client_factory=factory, now=lambda: datetime(2026, 11, 30, 13, tzinfo=UTC)
    )


TWO_PAGES = {
    "products": [
        _page("products", ["p1", "p2"], "products-1", True),
        _page("products", ["p3"], "products-2", False),
    ],
    "events": [_page("events", ["e1"], "events-1", False)],
}


def test_a_sweep_forwards_every_page_raw_with_the_query_attributes() -> None:
    server, forwarder = PagedServer(TWO_PAGES), FakeForwarder()
    sweeps = _sweeps(server, forwarder)
    record = asyncio.run(sweeps.sweep("manual"))

    assert record.errors == [] and dict(record.pages) == {"products": 2, "events": 1}
    sent = sorted(TWO_PAGES["products"] + TWO_PAGES["events"])
    assert sorted(f.data for f in forwarder.frames) == sent  # untouched bytes
    assert record.bytes == sum(len(p) for p in sent)
    by_op: dict[str, list[dict[str, str]]] = {}
    for frame in forwarder.frames:
        attrs = frame.attributes
        by_op.setdefault(attrs[ingress.ATTR_OPERATION], []).append(attrs)
        assert attrs[ingress.ATTR_SOURCE] == ingress.SOURCE_QUERY
        assert attrs[ingress.ATTR_SWEEP_ID] == record.sweep_id
        assert attrs[ingress.ATTR_CONNECTION_ID] == sweeps.instance_id
        assert ingress.parse_timestamp(
            attrs[ingress.ATTR_REQUEST_STARTED_AT]
        ) <= ingress.parse_timestamp(attrs[ingress.ATTR_RECEIVED_AT])
        assert attrs[ingress.ATTR_REQUEST_ID] in record.request_ids
    assert [a[ingress.ATTR_PAGE] for a in by_op["products"]] == ["1", "2"]
    assert len({f.attributes[ingress.ATTR_FRAME_ID] for f in forwarder.frames}) == 3
    # Variables: today's London racing day, page size, cursor of the previous page.
    products = [r["variables"] for r in server.requests if r["operation"] == "products"]
    assert products == [
        {"first": 2, "after": None, "date": "2026-11-30"},
        {"first": 2, "after": "products-1", "date": "2026-11-30"},
    ]
    events = next(r["variables"] for r in server.requests if r["operation"] == "events")
    since, until = day_window(date(2026, 11, 30))
    assert events["since"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert events["until"] == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    status = sweeps.status()
    assert status["sweeps"] == 1 and status["pages"] == 3 and status["failed"] == 0
    assert status["last"]["pages"] == {"products": 2, "events": 1}
    assert status["last"]["finished_at"] and status["last"]["duration_s"] >= 0
    assert KEY not in json.dumps(status)


def test_a_failing_operation_is_contained_and_counted_while_the_other_completes() -> None:
    server = PagedServer(TWO_PAGES, fail={("products", 2): 500})
    forwarder = FakeForwarder()
    sweeps = _sweeps(server, forwarder)
    record = asyncio.run(sweeps.sweep("manual"))
    assert dict(record.pages) == {"products": 1, "events": 1}
    assert len(forwarder.frames) == 2
    assert len(record.errors) == 1 and "products page 2: HTTP 500" in record.errors[0]
    assert sweeps.status()["failed"] == 1


def test_graphql_errors_and_a_stuck_cursor_end_the_operation_with_an_error() -> None:
    stuck = _page("products", ["p1"], "products-0", True)  # endCursor == the one asked with
    errors = b'{"errors":[{"message":"boom"}],"data":null}'
    pages = {"products": [_page("products", ["p"], "products-0", True), stuck], "events": [errors]}
    server, forwarder = PagedServer(pages), FakeForwarder()
    record = asyncio.run(_sweeps(server, forwarder).sweep("manual"))
    assert (
        len(forwarder.frames) == 3
    )  # the error page is forwarded too: the pipeline dead-letters it
    assert any("GraphQL errors" in e for e in record.errors)
    assert any("cursor did not advance" in e for e in record.errors)


def test_a_full_buffer_refuses_a_page_and_says_so() -> None:
    server, forwarder = PagedServer(TWO_PAGES), FakeForwarder(capacity=1)
    record = asyncio.run(_sweeps(server, forwarder, backpressure=0.05).sweep("manual"))
    assert record.refused == 2 and len(forwarder.refused) == 2
    assert sum("page refused" in e for e in record.errors) == 2


def test_scheduler_sweeps_at_start_after_subscribe_and_coalesces_triggers() -> None:
    server, forwarder = PagedServer(TWO_PAGES), FakeForwarder(capacity=10_000)
    sweeps = _sweeps(server, forwarder, start_grace=0.05, period=0)

    async def go() -> None:
        task = asyncio.create_task(sweeps.run())
        while sweeps.sweeps < 1:  # the start sweep, after the grace
            await asyncio.sleep(0.01)
        assert sweeps.last is not None and sweeps.last.trigger == "start"
        # Three triggers in a row while idle/sweeping: at most two more sweeps, never three.
        sweeps.trigger("subscribed")
        sweeps.trigger("manual")
        sweeps.trigger("manual")
        while sweeps.sweeps < 2 or sweeps.current is not None or sweeps._reasons:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go())
    assert 2 <= sweeps.sweeps <= 3
    assert sweeps.triggers == {"start": 1, "subscribed": 1, "manual": 2}
    assert sweeps.last is not None
    assert "subscribed" in sweeps.last.trigger or "manual" in sweeps.last.trigger


def test_scheduler_runs_periodic_sweeps_only_in_racing_hours() -> None:
    server, forwarder = PagedServer(TWO_PAGES), FakeForwarder(capacity=10_000)
    inside = _sweeps(server, forwarder, start_grace=0.0, period=0.02, jitter=0.0)
    outside = _sweeps(
        server,
        forwarder,
        start_grace=0.0,
        period=0.02,
        jitter=0.0,
        hours=parse_hours("00:00-00:01"),
    )

    async def go(sweeps: Sweeps, wait_for: int) -> None:
        task = asyncio.create_task(sweeps.run())
        while sweeps.sweeps < wait_for:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go(inside, 3))
    assert inside.triggers["periodic"] >= 2
    asyncio.run(go(outside, 1))  # only the start sweep; then the timer re-arms without sweeping

    async def armed_twice() -> None:
        task = asyncio.create_task(outside.run())
        first = None
        while True:
            await asyncio.sleep(0.01)
            if outside.next_periodic_at and first is None:
                first = outside.next_periodic_at
            elif outside.next_periodic_at and first and outside.next_periodic_at != first:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(armed_twice())
    assert outside.triggers.get("periodic", 0) == 0


def test_request_from_another_thread_needs_a_running_loop() -> None:
    sweeps = _sweeps(PagedServer(TWO_PAGES), FakeForwarder())
    assert sweeps.request("manual") is False  # nothing running


def test_an_oversized_page_is_forwarded_and_flagged_with_the_fix() -> None:
    big = _page("events", ["e" * 1000] * 1100, None, False)
    assert len(big) > ingress.MAX_FRAME_BYTES
    pages = {"products": [_page("products", [], None, False)], "events": [big]}
    server, forwarder = PagedServer(pages), FakeForwarder()
    record = asyncio.run(_sweeps(server, forwarder).sweep("manual"))
    assert len(forwarder.frames) == 2  # nothing lost: the pipeline dead-letters it with a reason
    assert len(record.errors) == 1 and "lower SWEEP_PAGE_SIZE (now 2)" in record.errors[0]


def test_stopping_the_client_cancels_a_sweep_in_progress_and_says_so() -> None:
    from connector.sweeps import run_alongside

    started = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(30)
        return httpx.Response(200, content=b"{}")

    sweeps = _sweeps(slow, FakeForwarder(), start_grace=0.0, period=0)

    async def client_that_stops() -> str:
        await started.wait()  # a sweep is waiting on the gateway...
        return "stopped"  # ...when the websocket client ends

    assert asyncio.run(run_alongside(client_that_stops(), sweeps)) == "stopped"
    assert sweeps.current is None and sweeps.last is not None
    assert any("cancelled" in e for e in sweeps.last.errors)
    assert sweeps.failed == 1 and sweeps.request("manual") is False
