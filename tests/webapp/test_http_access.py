"""Access over HTTP (Flask test client): every token case gets its status, reason and no data."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

import jwt
import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.responses import json_body
from tests.webapp.conftest import inject
from tests.webapp.messages import pool_total
from tests.webapp.servers import poll
from webapp import sse
from webapp.access import ACCESS_COOKIE, COOKIE_GRACE_SECONDS, AccessDenied, Keyring
from webapp.tokens import mint

SECRET = "an-http-test-secret-long-enough-0123456789"
KEYS = Keyring.from_json(json.dumps({"k1": SECRET}))
BET = (
    b'{"message_type": "BetAccepted", "data": {"bet_id": "b-1"}}',
    {"message_type": "BetAccepted"},
    "tote-bet-lifecycle",
)


def token(streams: list[str], sub: str = "alice", ttl: int = 600, **claims: object) -> str:
    if not claims and ttl > 0:
        return mint(KEYS, sub=sub, streams=streams, ttl=ttl)
    now = int(time.time())
    body = {"iss": "tote-realtime", "aud": "tote-webapp", "sub": sub, "exp": now + ttl}
    body.update(streams=streams, **claims)
    return jwt.encode(body, SECRET, algorithm="HS256", headers={"kid": "k1"})


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def secured(make_app: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    def build(**overrides: object) -> FlaskClient:
        return make_app(token_keys=KEYS, **overrides).test_client()

    return build


def first_events(response: TestResponse, app: Flask, count: int) -> list[sse.Message]:
    parser = sse.Parser()
    chunks: Iterator[bytes] = response.iter_encoded()
    got: list[sse.Message] = []
    list(parser.feed(next(chunks)))
    inject(app, BET)
    inject(app, pool_total("7"))
    while len(got) < count:
        got.extend(parser.feed(next(chunks)))
    return got


def assert_denied(response: TestResponse, status: int, reason: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert json_body(response)["reason"] == reason and json_body(response)["error"]
    assert not response.headers["Content-Type"].startswith("text/event-stream")
    assert "Bearer" in response.headers["WWW-Authenticate"]


# Each case builds its headers when the test runs, not at collection: a token minted at
# collection carries a real expiry and would be "expired" by the time a long suite reaches it.
BAD_TOKENS: list[tuple[Callable[[], dict[str, str]], str, str]] = [
    (dict, "", "missing"),
    (lambda: bearer("not-a-jwt"), "", "malformed"),
    (
        lambda: bearer(jwt.encode({"sub": "x"}, "wrong-secret-" * 4, headers={"kid": "k1"})),
        "",
        "bad-signature",
    ),
    (
        lambda: bearer(jwt.encode({"sub": "x"}, "", algorithm="none", headers={"kid": "k1"})),
        "",
        "algorithm",
    ),
    (lambda: bearer(token(["market"], ttl=-120)), "", "expired"),
    (
        lambda: bearer(token(["market"], ttl=7200, nbf=int(time.time()) + 3600)),
        "",
        "not-yet-valid",
    ),
    (lambda: bearer(token(["market"], aud="another-app")), "", "audience"),
    (lambda: bearer(token(["market"], iss="someone")), "", "issuer"),
    (dict, "?access_token=garbage", "malformed"),
    (lambda: {"cookie": "garbage"}, "", "malformed"),
]


@pytest.mark.parametrize(
    ("make_headers", "query", "reason"), BAD_TOKENS, ids=[case[2] for case in BAD_TOKENS]
)
def test_bad_tokens_are_401_with_a_reason(
    secured: Callable[..., FlaskClient],
    make_headers: Callable[[], dict[str, str]],
    query: str,
    reason: str,
) -> None:
    client = secured()
    headers = make_headers()
    if "cookie" in headers:
        client.set_cookie(ACCESS_COOKIE, headers.pop("cookie"))
    for path in ("/events", "/status"):
        response = client.get(path + query, headers=headers)
        assert_denied(response, 401, reason)
        assert SECRET not in response.get_data(as_text=True)


def test_under_scoped_token_is_403_and_gets_no_stream(secured: Callable[..., FlaskClient]) -> None:
    client = secured()
    market = bearer(token(["market"]))
    assert_denied(
        client.get("/events?types=bet-lifecycle", headers=market), 403, "forbidden-stream"
    )
    mixed = client.get("/events?types=pool-total,bet-lifecycle", headers=market)
    assert_denied(mixed, 403, "forbidden-stream")
    assert "insufficient_scope" in mixed.headers["WWW-Authenticate"]
    nothing = bearer(token(["a-stream-from-the-future"], ttl=600, extra=1))
    assert_denied(client.get("/events", headers=nothing), 403, "no-streams")
    assert json_body(client.get("/status", headers=market))["clients"]["connected"] == 0


def test_market_token_without_types_gets_market_streams_only(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(token_keys=KEYS)
    response = app.test_client().get("/events", headers=bearer(token(["market"])))
    assert response.status_code == 200
    (message,) = first_events(response, app, 1)  # the bet event is not sent
    assert message.event == "pool-total"
    response.close()


@pytest.mark.parametrize("where", ["header", "cookie", "query"])
def test_private_stream_with_a_granting_token(make_app: Callable[..., Flask], where: str) -> None:
    app = make_app(token_keys=KEYS)
    client = app.test_client()
    value = token(["market", "bet-lifecycle"])
    headers = bearer(value) if where == "header" else {}
    if where == "cookie":
        client.set_cookie(ACCESS_COOKIE, value)
    query = f"&access_token={value}" if where == "query" else ""
    response = client.get(f"/events?types=bet-lifecycle,pool-total{query}", headers=headers)
    assert response.status_code == 200
    assert [m.event for m in first_events(response, app, 2)] == ["bet-lifecycle", "pool-total"]
    response.close()


def test_market_open_serves_anonymous_market_data_only(make_app: Callable[..., Flask]) -> None:
    app = make_app(token_keys=KEYS, market_data_open=True)
    client = app.test_client()
    response = client.get("/events")
    assert response.status_code == 200
    assert [m.event for m in first_events(response, app, 1)] == ["pool-total"]
    response.close()
    assert_denied(client.get("/events?types=bet-lifecycle"), 401, "missing")
    assert_denied(client.get("/events", headers=bearer("junk")), 401, "malformed")
    assert_denied(client.get("/status"), 401, "missing")  # operational data needs a token
    ok = client.get("/events?types=bet-lifecycle", headers=bearer(token(["bet-lifecycle"])))
    assert ok.status_code == 200
    ok.close()


def test_health_stays_open(secured: Callable[..., FlaskClient]) -> None:
    assert secured().get("/health").status_code == 200


def test_stream_limit_is_per_token_subject(secured: Callable[..., FlaskClient]) -> None:
    client = secured(max_streams_per_client=1)
    alice = bearer(token(["market"], sub="alice"))
    first = client.get("/events", headers=alice)
    assert first.status_code == 200
    # Another address does not help alice: her limit follows her token.
    refused = client.get("/events", headers=alice, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert refused.status_code == 429 and "'alice'" in json_body(refused)["error"]
    # Bob, from alice's address, has his own.
    bob = client.get("/events", headers=bearer(token(["market"], sub="bob")))
    assert bob.status_code == 200
    bob.close()
    first.close()
    again = client.get("/events", headers=alice)
    assert again.status_code == 200
    again.close()


def test_cors_with_credentials_and_vary(make_app: Callable[..., Flask]) -> None:
    client = make_app(token_keys=KEYS, cors_origins=("https://dash.example",)).test_client()
    preflight = client.options("/events", headers={"Origin": "https://dash.example"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    denied = client.get("/events", headers={"Origin": "https://dash.example"})
    assert denied.status_code == 401  # the browser can read the reason: CORS headers on errors
    assert denied.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert denied.headers["Vary"] == "Origin"
    foreign = client.get("/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert foreign.headers["Vary"] == "Origin"


def test_session_trades_a_bearer_token_for_an_httponly_cookie(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(token_keys=KEYS)
    client = app.test_client()
    value = token(["market", "bet-lifecycle"], ttl=600)
    assert_denied(client.post("/session"), 401, "missing")
    assert_denied(client.post("/session", headers=bearer("junk")), 401, "malformed")
    assert_denied(client.post(f"/session?access_token={value}"), 401, "missing")  # header only
    opened = client.post("/session", headers=bearer(value))
    assert opened.status_code == 200
    assert json_body(opened)["sub"] == "alice" and "bet-lifecycle" in json_body(opened)["streams"]
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith(f"{ACCESS_COOKIE}={value};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP (local development)
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert 590 + COOKIE_GRACE_SECONDS <= max_age <= 600 + COOKIE_GRACE_SECONDS
    # The browser now sends the cookie by itself: private data without a token in the URL.
    stream = client.get("/events?types=bet-lifecycle")
    assert stream.status_code == 200
    stream.close()
    closed = client.delete("/session")
    assert closed.status_code == 204 and "Max-Age=0" in closed.headers["Set-Cookie"]
    assert_denied(client.get("/events?types=bet-lifecycle"), 401, "missing")


def test_session_cookie_for_other_sites_is_secure_and_samesite_none(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(token_keys=KEYS, cors_origins=("https://dash.example",))
    client = app.test_client()
    preflight = client.options("/session", headers={"Origin": "https://dash.example"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    opened = client.post(
        "/session",
        headers={**bearer(token(["market"])), "Origin": "https://dash.example"},
    )
    assert opened.status_code == 200
    assert opened.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    cookie = opened.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "; Partitioned" in cookie  # CHIPS: kept where third-party cookies are blocked
    removed = client.delete("/session", headers={"Origin": "https://dash.example"})
    assert "; Partitioned" in removed.headers["Set-Cookie"]  # else the cookie would stay


def test_session_needs_keys(make_app: Callable[..., Flask]) -> None:
    client = make_app(market_data_open=True).test_client()
    assert_denied(client.post("/session", headers=bearer("x")), 401, "unknown-key")


def test_dashboard_trades_the_fragment_token_for_a_cookie(client: FlaskClient) -> None:
    script = client.get("/static/dashboard.js").get_data(as_text=True)
    assert 'fetch("/session"' in script and "Authorization: `Bearer ${token}`" in script
    assert "access_token" not in script  # never a token in a URL
    assert "history.replaceState" in script  # and not left in the address bar


def test_a_stream_ends_when_its_token_expires(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(token_keys=KEYS, token_leeway=0.0, write_timeout=0.4)
    runtime = app.extensions["tote"]
    client = app.test_client()
    # ttl=2: mint truncates "now" to the second, so ttl=1 could be expired on arrival.
    short = mint(KEYS, sub="brief", streams=["market"], ttl=2)
    lasting = client.get("/events", headers=bearer(token(["market"], sub="long", ttl=600)))
    with caplog.at_level(logging.INFO, logger="webapp.runtime"):
        response = client.get("/events", headers=bearer(short))
        assert response.status_code == 200
        chunks = response.iter_encoded()
        next(chunks)
        rest = list(chunks)  # returns once the reaper ends the stream (token expired)
        assert poll(
            lambda: any(
                getattr(r, "json_fields", {}).get("event") == "sse-token-expired"
                for r in caplog.records
            )
        )
    assert b"data:" not in b"".join(rest)
    assert runtime.limiter.open_streams("sub:brief") == 0
    assert runtime.bus.stats().dropped_clients == 0  # an expiry is not a slow client
    assert runtime.limiter.open_streams("sub:long") == 1  # a valid token's stream goes on
    lasting.close()
    # Reconnecting with the expired token is refused.
    assert_denied(client.get("/events", headers=bearer(short)), 401, "expired")


def test_private_authoriser_hook_follows_the_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(token_keys=KEYS, market_data_open=True)
    hook = app.config["TOTE_PRIVATE_AUTHORISER"]
    cases = [
        ({}, False),  # anonymous: market data only
        (bearer(token(["market"])), False),
        (bearer(token(["market", "bet-lifecycle"])), True),
    ]
    for headers, allowed in cases:
        with app.test_request_context("/state", headers=headers):
            assert hook(request) is allowed, headers
    open_app = make_app()  # no access control at all (local development)
    with open_app.test_request_context("/state"):
        assert open_app.config["TOTE_PRIVATE_AUTHORISER"](request) is True


@pytest.mark.parametrize(
    ("market_open", "make_headers", "reason"),
    [
        (True, lambda: bearer("junk"), "malformed"),
        (True, lambda: bearer(token(["market", "bet-lifecycle"], ttl=-120)), "expired"),
        (False, dict, "missing"),  # market data not open: anonymous gets nothing at all
    ],
)
def test_private_authoriser_denies_bad_tokens_explicitly(
    make_app: Callable[..., Flask],
    market_open: bool,
    make_headers: Callable[[], dict[str, str]],
    reason: str,
) -> None:
    """A bad token is a 401, never a quiet market-only answer, even if the endpoint does not
    catch the denial (the app's error handler answers it)."""
    headers = make_headers()
    app = make_app(token_keys=KEYS, market_data_open=market_open)
    hook = app.config["TOTE_PRIVATE_AUTHORISER"]
    with app.test_request_context("/state", headers=headers), pytest.raises(AccessDenied) as caught:
        hook(request)
    assert (caught.value.status, caught.value.reason) == (401, reason)

    @app.get("/mixed")
    def mixed() -> dict[str, bool]:  # an endpoint that trusts the hook blindly
        return {"private": hook(request)}

    assert_denied(app.test_client().get("/mixed", headers=headers), 401, reason)


@pytest.mark.parametrize("exp", [1e12, float("nan"), float("inf")])
def test_session_refuses_absurd_expiry(make_app: Callable[..., Flask], exp: float) -> None:
    # Before: int(nan) / a cookie expiring in year 33658 made this a 500.
    client = make_app(token_keys=KEYS).test_client()
    body = {"iss": "tote-realtime", "aud": "tote-webapp", "sub": "a", "exp": exp}
    absurd = jwt.encode({**body, "streams": ["market"]}, SECRET, headers={"kid": "k1"})
    response = client.post("/session", headers=bearer(absurd))
    assert_denied(response, 401, "claims")
    assert "Set-Cookie" not in response.headers
    assert_denied(client.get("/events", headers=bearer(absurd)), 401, "claims")


def test_query_tokens_off_refuses_them_explicitly(make_app: Callable[..., Flask]) -> None:
    client = make_app(token_keys=KEYS, market_data_open=True, query_tokens=False).test_client()
    value = token(["market", "bet-lifecycle"])
    # Not served as anonymous market data either: the client is told why.
    assert_denied(client.get(f"/events?access_token={value}"), 401, "query-token")
    assert_denied(client.get(f"/status?access_token={value}"), 401, "query-token")
    stream = client.get("/events?types=bet-lifecycle", headers=bearer(value))
    assert stream.status_code == 200
    stream.close()


def test_an_expired_cookie_does_not_shadow_a_fresh_query_token(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(token_keys=KEYS).test_client()
    client.set_cookie(ACCESS_COOKIE, token(["market", "bet-lifecycle"], ttl=-120))
    assert_denied(client.get("/events?types=bet-lifecycle"), 401, "expired")
    fresh = token(["market", "bet-lifecycle"])
    stream = client.get(f"/events?types=bet-lifecycle&access_token={fresh}")
    assert stream.status_code == 200
    stream.close()
    client.set_cookie(ACCESS_COOKIE, "junk")  # only expiry falls through
    assert_denied(client.get(f"/events?access_token={fresh}"), 401, "malformed")


def test_cross_origin_head_gets_cors_headers(make_app: Callable[..., Flask]) -> None:
    client = make_app(token_keys=KEYS, cors_origins=("https://dash.example",)).test_client()
    origin = {"Origin": "https://dash.example"}
    probe = client.head("/events", headers={**origin, **bearer(token(["market"]))})
    assert probe.status_code == 200
    assert probe.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert probe.headers["Access-Control-Allow-Credentials"] == "true"
    assert probe.headers["Vary"] == "Origin"


def test_refused_session_preflight_varies_on_origin(make_app: Callable[..., Flask]) -> None:
    client = make_app(token_keys=KEYS, cors_origins=("https://dash.example",)).test_client()
    refused = client.options("/session", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_cookie_is_secure_on_cloud_run_whatever_the_forwarded_proto(
    make_app: Callable[..., Flask],
) -> None:
    local = make_app(token_keys=KEYS).test_client()
    cloud = make_app(token_keys=KEYS, cloud_run=True).test_client()
    value = token(["market"])
    for headers in ({}, {"X-Forwarded-Proto": "http"}):
        opened = cloud.post("/session", headers={**bearer(value), **headers})
        assert "; Secure" in opened.headers["Set-Cookie"], headers
        assert "; Secure" in cloud.delete("/session", headers=headers).headers["Set-Cookie"]
        assert "; Secure" not in local.post("/session", headers=bearer(value)).headers["Set-Cookie"]
    proxied = local.post("/session", headers={**bearer(value), "X-Forwarded-Proto": "https"})
    assert "; Secure" in proxied.headers["Set-Cookie"]  # behind an HTTPS proxy elsewhere
