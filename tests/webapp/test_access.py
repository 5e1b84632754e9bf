"""Token verification and access decisions, every case, as pure functions (no server)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from contract import catalog
from webapp.access import (
    ALL_STREAMS,
    COOKIE_GRACE_SECONDS,
    MARKET_NAMES,
    MARKET_STREAMS,
    MAX_LEEWAY_SECONDS,
    MAX_TOKEN_TTL_SECONDS,
    PRIVATE_STREAMS,
    AccessDenied,
    AccessPolicy,
    Keyring,
    KeyringError,
    Principal,
    authenticate,
    authenticate_request,
    bearer_token,
    cors_headers,
    origin_allowed,
    readable_streams,
    session_cookie,
)
from webapp.filters import STREAMS
from webapp.tokens import MAX_TTL, mint

NOW = 1_800_000_000.0
SECRET = "a-test-secret-that-is-long-enough-0123456789"
OTHER = "another-secret-that-is-long-enough-987654321"
KEYS = Keyring.from_json(json.dumps({"k1": SECRET}))
POLICY = AccessPolicy(keyring=KEYS)


def claims(**overrides: object) -> dict[str, Any]:
    base = {
        "iss": "tote-realtime",
        "aud": "tote-webapp",
        "sub": "alice",
        "iat": int(NOW),
        "exp": int(NOW) + 600,
        "streams": ["market"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    body: dict[str, Any], key: object = SECRET, alg: str = "HS256", kid: str | None = "k1"
) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]  # tests sign with keys of any type, wrong ones too


def reason(token: str | None, policy: AccessPolicy = POLICY, now: float = NOW) -> str:
    with pytest.raises(AccessDenied) as caught:
        authenticate(token, policy, now=now)
    assert caught.value.status == 401
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_market_and_private_streams_cover_every_stream_exactly() -> None:
    assert MARKET_STREAMS | PRIVATE_STREAMS == set(STREAMS) == ALL_STREAMS
    assert {t.stream for t in catalog.TOPICS} <= ALL_STREAMS
    assert {"bet-lifecycle"} == PRIVATE_STREAMS
    assert not MARKET_STREAMS & PRIVATE_STREAMS
    # Every catalog stream but the bets is listed as market data by name (no typo).
    assert {t.stream for t in catalog.TOPICS} - PRIVATE_STREAMS <= MARKET_NAMES


def test_a_valid_token_names_its_subject_and_streams() -> None:
    principal = authenticate(sign(claims(streams=["market", "bet-lifecycle"])), POLICY, now=NOW)
    assert principal == Principal("alice", ALL_STREAMS, NOW + 600)
    only = authenticate(sign(claims(streams=["pool-total", "future-stream"])), POLICY, now=NOW)
    assert only.streams == {"pool-total"}  # unknown names grant nothing


def test_missing_token() -> None:
    assert reason(None) == "missing"


@pytest.mark.parametrize("token", ["abc", "a.b.c", "x" * 5000, "Bearer", b64(b"{nope") + ".x.y"])
def test_malformed_token(token: str) -> None:
    assert reason(token) == "malformed"


def test_bad_signature() -> None:
    assert reason(sign(claims(), key=OTHER)) == "bad-signature"
    good = sign(claims())
    header, _payload, _ = good.split(".")
    forged = b64(json.dumps(claims(streams=["bet-lifecycle"])).encode())
    assert reason(f"{header}.{forged}.{good.split('.')[2]}") == "bad-signature"


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims(streams=["market", "bet-lifecycle"])).encode())
    assert reason(f"{header}.{body}.") == "algorithm"
    assert reason(jwt.encode(claims(), "", algorithm="none")) in {"algorithm", "unknown-key"}


def test_other_algorithms_are_refused() -> None:
    assert reason(sign(claims(), key=SECRET * 2, alg="HS512")) == "algorithm"
    assert reason(sign(claims(), key=SECRET * 2, alg="HS384")) == "algorithm"
    assert reason(b64(b'{"kid": "k1"}') + "." + b64(b"{}") + "." + b64(b"sig")) == "algorithm"


def test_hs256_token_signed_with_a_public_key_is_refused() -> None:
    """Algorithm confusion: an RS256 key's PEM text must never be used as an HMAC secret."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    keys = Keyring.from_json(json.dumps({"rsa": pem}))
    policy = AccessPolicy(keyring=keys)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa"}).encode())
    assert reason(f"{header}.{b64(b'{}')}.{b64(b'x')}", policy) == "algorithm"
    good = sign(claims(), key=private, alg="RS256", kid="rsa")
    assert authenticate(good, policy, now=NOW).sub == "alice"


def test_es256_public_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    policy = AccessPolicy(keyring=Keyring.from_json(json.dumps({"ec": pem})))
    token = sign(claims(streams=["bet-lifecycle"]), key=private, alg="ES256", kid="ec")
    assert authenticate(token, policy, now=NOW).streams == {"bet-lifecycle"}
    other = ec.generate_private_key(ec.SECP256R1())
    assert reason(sign(claims(), key=other, alg="ES256", kid="ec"), policy) == "bad-signature"


def test_expired_with_leeway() -> None:
    token = sign(claims(exp=int(NOW) - 31))
    assert reason(token) == "expired"
    assert authenticate(sign(claims(exp=int(NOW) - 10)), POLICY, now=NOW).sub == "alice"


def test_not_yet_valid() -> None:
    assert reason(sign(claims(nbf=int(NOW) + 120))) == "not-yet-valid"
    assert authenticate(sign(claims(nbf=int(NOW) + 5)), POLICY, now=NOW).sub == "alice"


def test_wrong_audience_and_issuer() -> None:
    assert reason(sign(claims(aud="someone-else"))) == "audience"
    assert reason(sign(claims(iss="https://evil.example"))) == "issuer"


@pytest.mark.parametrize(
    "body",
    [
        claims(exp=None),
        claims(sub=None),
        claims(aud=None),
        claims(sub=""),
        claims(sub="x" * 200),
        claims(streams="market"),
        claims(streams=[1, 2]),
        claims(streams=None),
        claims(exp="tomorrow"),
        claims(nbf="now"),
    ],
)
def test_missing_or_malformed_claims(body: dict[str, Any]) -> None:
    assert reason(sign(body)) in {"claims", "malformed"}


@pytest.mark.parametrize(
    "body",
    [
        claims(exp=float("nan")),  # now >= nan is never true: it would never expire
        claims(exp=float("inf")),
        claims(exp=float("-inf")),
        claims(exp=1e12),  # year 33658: no cookie Max-Age or expiry date can hold it
        claims(exp=int(NOW) + MAX_TOKEN_TTL_SECONDS + 31),  # beyond the longest life + leeway
        claims(nbf=float("nan")),
        claims(nbf=float("-inf")),
        claims(iat=float("nan")),
        claims(iat=float("inf")),
        claims(iat="yesterday"),
    ],
)
def test_absurd_times_are_refused(body: dict[str, Any]) -> None:
    assert reason(sign(body)) == "claims"


def test_the_longest_token_life_is_accepted_and_mintable() -> None:
    longest = sign(claims(exp=int(NOW) + MAX_TOKEN_TTL_SECONDS + 30))  # leeway included
    assert authenticate(longest, POLICY, now=NOW).expires_at == NOW + MAX_TOKEN_TTL_SECONDS + 30
    assert MAX_TTL == MAX_TOKEN_TTL_SECONDS == 7 * 24 * 3600  # docs/webapp.md says a week
    minted = mint(KEYS, sub="bob", streams=["market"], ttl=MAX_TTL, now=NOW)
    assert authenticate(minted, POLICY, now=NOW).sub == "bob"
    with pytest.raises(ValueError, match="ttl"):
        mint(KEYS, sub="bob", streams=["market"], ttl=MAX_TTL + 1, now=NOW)


def test_leeway_is_bounded() -> None:
    assert AccessPolicy(leeway=MAX_LEEWAY_SECONDS).leeway == 300
    for bad in (MAX_LEEWAY_SECONDS + 1, float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="leeway"):
            AccessPolicy(leeway=bad)


def test_key_rotation_by_kid() -> None:
    rotated = Keyring.from_json(json.dumps({"k2": OTHER, "k1": SECRET}))
    policy = AccessPolicy(keyring=rotated)
    assert authenticate(sign(claims(), key=SECRET, kid="k1"), policy, now=NOW).sub == "alice"
    assert authenticate(sign(claims(), key=OTHER, kid="k2"), policy, now=NOW).sub == "alice"
    assert reason(sign(claims(), key=OTHER, kid="k1"), policy) == "bad-signature"
    assert reason(sign(claims(), kid="k9"), policy) == "unknown-key"
    assert reason(sign(claims(), kid=None), policy) == "unknown-key"  # ambiguous without kid
    assert authenticate(sign(claims(), kid=None), POLICY, now=NOW).sub == "alice"  # one key


def test_minted_tokens_verify_and_use_the_first_key() -> None:
    rotated = Keyring.from_json(json.dumps({"k2": OTHER, "k1": SECRET}))
    token = mint(rotated, sub="bob", streams=["market", "bet-lifecycle"], ttl=60, now=NOW)
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    principal = authenticate(token, AccessPolicy(keyring=rotated), now=NOW + 30)
    assert principal.sub == "bob" and principal.streams == ALL_STREAMS
    assert reason(token, AccessPolicy(keyring=rotated), now=NOW + 100) == "expired"
    refused: list[dict[str, Any]] = [{"streams": ["markets"]}, {"streams": []}, {"ttl": 0}]
    for bad in [*refused, {"sub": " "}]:
        args: dict[str, Any] = {"sub": "bob", "streams": ["market"], "ttl": 60, **bad}
        with pytest.raises(ValueError):
            mint(rotated, **args)


def test_under_scoped_requests_are_403() -> None:
    market = Principal("alice", MARKET_STREAMS)
    assert readable_streams(market, None) == MARKET_STREAMS
    assert readable_streams(market, frozenset({"pool-total"})) == {"pool-total"}
    with pytest.raises(AccessDenied) as caught:
        readable_streams(market, frozenset({"pool-total", "bet-lifecycle"}))
    assert (caught.value.status, caught.value.reason) == (403, "forbidden-stream")
    assert "bet-lifecycle" in caught.value.message
    with pytest.raises(AccessDenied) as caught:
        readable_streams(Principal("carol", frozenset()), None)
    assert (caught.value.status, caught.value.reason) == (403, "no-streams")


def test_market_open() -> None:
    policy = AccessPolicy(keyring=KEYS, market_open=True)
    anonymous = authenticate(None, policy, now=NOW)
    assert anonymous.anonymous and anonymous.streams == MARKET_STREAMS
    assert readable_streams(anonymous, None) == MARKET_STREAMS
    with pytest.raises(AccessDenied) as caught:  # anonymous: may still present a token
        readable_streams(anonymous, frozenset({"bet-lifecycle"}))
    assert (caught.value.status, caught.value.reason) == (401, "missing")
    assert reason(sign(claims(), key=OTHER), policy) == "bad-signature"  # no silent downgrade
    # Open market data without any key: tokens cannot be checked, private data is unreachable.
    keyless = AccessPolicy(market_open=True)
    assert authenticate(None, keyless, now=NOW).streams == MARKET_STREAMS
    assert reason(sign(claims()), keyless) == "unknown-key"


def test_no_access_control_only_when_nothing_is_configured() -> None:
    assert not AccessPolicy().enabled
    assert authenticate(None, AccessPolicy(), now=NOW).streams == ALL_STREAMS


def test_keyring_parsing_never_echoes_a_key() -> None:
    for text, message in [
        ("nope", "not JSON"),
        ("[]", "non-empty JSON object"),
        ('{"k": 5}', "non-empty string"),
        ('{"k": "short-secret"}', "at least 32"),
    ]:
        with pytest.raises(KeyringError, match=message) as caught:
            Keyring.from_json(text)
        assert "short-secret" not in str(caught.value)
    assert SECRET not in repr(KEYS) and "k1" in repr(KEYS)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def who(
    header: str | None, cookie: str | None, query: str | None, policy: AccessPolicy = POLICY
) -> str | None:
    """The subject :func:`authenticate_request` picks, or the denial's reason."""
    auth = f"Bearer {header}" if header else None
    try:
        return authenticate_request(auth, cookie, query, policy, now=NOW).sub
    except AccessDenied as denied:
        return f"denied:{denied.reason}"


def test_token_sources_in_order() -> None:
    h, c, q = (sign(claims(sub=s)) for s in ("header", "cookie", "query"))
    expired = sign(claims(sub="old", exp=int(NOW) - 600))
    forged = sign(claims(sub="forged"), key=OTHER)
    assert who(h, c, q) == "header"  # the header always wins
    assert who(None, c, q) == "cookie"
    assert who(None, "", q) == "query" and who(None, None, q) == "query"
    assert who(None, None, None) == "denied:missing"
    # An expired cookie (browsers keep sending it for a grace period) falls through...
    assert who(None, expired, q) == "query"
    assert who(h, expired, None) == "header"
    # ... but with nothing behind it, the client is told it expired (not served anonymous).
    assert who(None, expired, None) == "denied:expired"
    assert who(None, expired, None, AccessPolicy(keyring=KEYS, market_open=True)) == (
        "denied:expired"
    )
    # Only expiry falls through: a forged cookie is refused, whatever follows it.
    assert who(None, forged, q) == "denied:bad-signature"
    assert who(None, expired, forged) == "denied:bad-signature"
    # No access control: nobody's token is even read.
    assert who(None, None, "junk", AccessPolicy()) is None


def test_query_tokens_can_be_refused() -> None:
    closed = AccessPolicy(keyring=KEYS, market_open=True, query_tokens=False)
    q = sign(claims(sub="query"))
    assert who(None, None, q, closed) == "denied:query-token"
    # Refused even beside a valid header: the token is in the URL, and so in the request log.
    assert who(sign(claims(sub="header")), None, q, closed) == "denied:query-token"
    assert who(sign(claims(sub="header")), None, None, closed) == "header"
    assert who(None, None, None, closed) is None  # anonymous market data, as before
    assert who(None, None, "  ", closed) is None  # an empty parameter carries no token


def test_cors_with_credentials_for_named_origins() -> None:
    allowed = ("https://a.example",)
    assert origin_allowed("https://a.example", allowed)
    assert not origin_allowed("https://b.example", allowed)
    assert not origin_allowed("https://a.example.evil", allowed)
    assert cors_headers("https://b.example", allowed) == {"Vary": "Origin"}
    headers = cors_headers("https://a.example", allowed)
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Vary"] == "Origin"
    wildcard = cors_headers("https://any.example", ("*",))
    assert wildcard["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in wildcard
    assert cors_headers(None, ("*",)) == {"Vary": "Origin"}


def test_session_cookie_attributes() -> None:
    principal = Principal("alice", MARKET_STREAMS, NOW + 300)
    local = session_cookie(principal, now=NOW, https=False, cross_site=False)
    assert local == {
        "max_age": 300 + COOKIE_GRACE_SECONDS,  # a reconnect after expiry hears "expired"
        "httponly": True,
        "secure": False,
        "samesite": "Lax",
        "partitioned": False,
        "path": "/",
    }
    cross = session_cookie(principal, now=NOW, https=False, cross_site=True)
    assert cross["samesite"] == "None" and cross["secure"] is True
    assert cross["partitioned"] is True  # CHIPS: kept where third-party cookies are blocked
    late = session_cookie(principal, now=NOW + 999, https=True, cross_site=False)
    assert late["max_age"] == COOKIE_GRACE_SECONDS
    with pytest.raises(ValueError):
        session_cookie(Principal(None, MARKET_STREAMS), now=NOW, https=True, cross_site=False)
