"""Hypothesis over ``/events``, ``/status``, ``/session``, ``/``: hostile queries and headers.

Properties, for every generated request: no 5xx; no stream slot or bus client left behind once
the response is closed; and the secret token (sent in the query, header or cookie of some
requests) appears in no log line.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.responses import json_body
from webapp.access import ACCESS_COOKIE, Keyring
from webapp.app import create_app, shutdown_app
from webapp.config import Config
from webapp.logs import CloudFormatter
from webapp.runtime import Runtime
from webapp.tokens import mint

SECRET = "a-fuzz-test-secret-long-enough-0123456789"
KEYS = Keyring.from_json(json.dumps({"k1": SECRET}))
# Minted at import with a day's lifetime: the suite must never outlive its tokens.
TOKEN = mint(KEYS, sub="fuzzer", streams=["market", "bet-lifecycle"], ttl=86_400)
MARKET_TOKEN = mint(KEYS, sub="fuzzer-market", streams=["market"], ttl=86_400)

_hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "abc-\u00b2",
            "\u0663-1",
            "-1",
            "99999999999999999999999999",
            "a" * 65,
            "pool-total,bet-lifecycle",
            "%00",
            "%ZZ",
            "\x00",
            "../../etc/passwd",
            "<script>",
            TOKEN,
            MARKET_TOKEN,
            TOKEN + "x",
            "Bearer " + TOKEN,
        ]
    ),
)
_header_text = _hostile_text.map(
    lambda s: "".join(c for c in s if 32 <= ord(c) < 256 and c not in "\r\n")
)
_param = st.sampled_from(
    ["types", "product_id", "event_id", "last_event_id", "access_token", "x", "access%5Ftoken"]
)


@st.composite
def _query(draw: st.DrawFn) -> str:
    from urllib.parse import quote

    parts = draw(st.lists(st.tuples(_param, _hostile_text), max_size=5))
    raw = draw(st.booleans())  # sometimes unencoded bytes, as a hostile client would send
    return "&".join(f"{k}={v if raw else quote(v, safe='')}" for k, v in parts)


_headers = st.dictionaries(
    st.sampled_from(
        [
            "Authorization",
            "Last-Event-ID",
            "Origin",
            "X-Forwarded-For",
            "X-Cloud-Trace-Context",
            "X-Request-Id",
            "Accept",
        ]
    ),
    st.one_of(_header_text, _header_text.map(lambda s: "Bearer " + s)),
    max_size=4,
)


@pytest.fixture(scope="module")
def fuzz_app() -> Iterator[Flask]:
    app = create_app(
        Config(
            pubsub_enabled=False,
            heartbeat_seconds=5.0,
            flush_interval=0.0,
            token_keys=KEYS,
            market_data_open=True,
            cors_origins=("https://dash.example",),
            trusted_proxy_hops=1,
            max_streams_per_client=2,
        )
    )
    app.config["TESTING"] = False  # a real 500 page instead of an exception in the test
    yield app
    shutdown_app(app)


@pytest.fixture(scope="module")
def log_text() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(CloudFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(previous)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/events", "/status", "/", "/health", "/healthz", "/session"]),
    method=st.sampled_from(["GET", "GET", "GET", "HEAD", "OPTIONS", "POST", "DELETE"]),
    query=_query(),
    headers=_headers,
    cookie=st.one_of(st.none(), _header_text),
)
def test_hostile_requests_never_5xx_leak_slots_or_log_tokens(
    fuzz_app: Flask,
    log_text: io.StringIO,
    path: str,
    method: str,
    query: str,
    headers: dict[str, str],
    cookie: str | None,
) -> None:
    runtime: Runtime = fuzz_app.extensions["tote"]
    client = fuzz_app.test_client()
    if cookie:
        client.set_cookie(ACCESS_COOKIE, cookie)
    response = client.open(path, method=method, query_string=query, headers=headers)
    try:
        assert response.status_code < 500, (response.status_code, response.get_data()[:200])
        if response.status_code >= 400 and path in ("/events", "/status") and method == "GET":
            assert response.is_json and json_body(response)["error"]
    finally:
        response.close()
    assert runtime.limiter.open_streams() == 0
    assert runtime.bus.stats().clients == 0
    logged = log_text.getvalue()
    assert TOKEN not in logged and MARKET_TOKEN not in logged
    assert TOKEN.split(".")[2] not in logged
