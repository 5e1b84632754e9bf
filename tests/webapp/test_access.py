"""Token verification and access decisions, every case, as pure functions (no server)."""

from __future__ import annotations

import base64
import json

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
    PRIVATE_STREAMS,
    AccessDenied,
    AccessPolicy,
    Keyring,
    KeyringError,
    Principal,
    authenticate,
    bearer_token,
    cors_headers,
    offered_token,
    origin_allowed,
    readable_streams,
    session_cookie,
)
from webapp.filters import STREAMS
from webapp.tokens import mint

NOW = 1_800_000_000.0
SECRET = "a-test-secret-that-is-long-enough-0123456789"
OTHER = "another-secret-that-is-long-enough-987654321"
KEYS = Keyring.from_json(json.dumps({"k1": SECRET}))
POLICY = AccessPolicy(keyring=KEYS)


def claims(**overrides: object) -> dict:
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


def sign(body: dict, key: object = SECRET, alg: str = "HS256", kid: str | None = "k1") -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


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
    assert reason(jwt.encode(claims(), None, algorithm="none")) in {"algorithm", "unknown-key"}


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
def test_missing_or_malformed_claims(body: dict) -> None:
    assert reason(sign(body)) in {"claims", "malformed"}


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
    for bad in ({"streams": ["markets"]}, {"streams": []}, {"ttl": 0}, {"sub": " "}):
        args = {"sub": "bob", "streams": ["market"], "ttl": 60, **bad}
        with pytest.raises(ValueError):
            mint(rotated, **args)  # type: ignore[arg-type]


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


def test_token_sources_in_order() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
    assert offered_token("Bearer h", "c", "q") == "h"
    assert offered_token(None, "c", "q") == "c"
    assert offered_token("Basic x", "", "q") == "q"
    assert offered_token(None, None, None) is None


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
        "path": "/",
    }
    cross = session_cookie(principal, now=NOW, https=False, cross_site=True)
    assert cross["samesite"] == "None" and cross["secure"] is True
    late = session_cookie(principal, now=NOW + 999, https=True, cross_site=False)
    assert late["max_age"] == COOKIE_GRACE_SECONDS
    with pytest.raises(ValueError):
        session_cookie(Principal(None, MARKET_STREAMS), now=NOW, https=True, cross_site=False)
