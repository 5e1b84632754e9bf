"""Who may read which stream: signed, expiring JWTs that list streams, and CORS.

Market data (pool totals, statuses, results, dividends, runners) and private data
(``bet-lifecycle``: bet ids, customer bet ids, returns) are authorised separately, in the
spirit of Mercure: a client presents a JWT whose ``streams`` claim lists what it may read::

    {"iss": "tote-realtime", "aud": "tote-webapp", "sub": "alice",
     "iat": 1764489600, "exp": 1764493200, "streams": ["market", "bet-lifecycle"]}

``"market"`` stands for every market stream; a stream's own name (``"pool-total"``) grants
that one.  Unknown names grant nothing (a token minted for a newer version still works here).
Market data may be configured open (``WEBAPP_MARKET_DATA_OPEN``): anonymous clients then get
the market streams, never ``bet-lifecycle``.

Tokens are verified against a keyring (``WEBAPP_TOKEN_KEYS``, JSON ``{"<kid>": "<key>"}``):
an HS256 shared secret (>= 32 characters), or a PEM public key (RS256 for RSA, ES256 for an EC
P-256 key) for tokens signed elsewhere.  Each key allows exactly one algorithm, so ``none`` or
an HS256 token "signed" with an RSA public key is refused.  Rotation: add the new key, mint
with it (the first key of the JSON object signs, ``python -m webapp.tokens``), remove the old
one when its tokens have expired; the token header's ``kid`` picks the key.

Everything here is a pure function of its arguments (the time included), so every case
is unit-tested without a server; the blueprints only map :class:`AccessDenied` to 401/403.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from webapp.filters import STREAMS

__all__ = [
    "ACCESS_COOKIE",
    "ALL_STREAMS",
    "MARKET",
    "MARKET_NAMES",
    "MARKET_STREAMS",
    "PRIVATE_STREAMS",
    "AccessDenied",
    "AccessPolicy",
    "Key",
    "Keyring",
    "KeyringError",
    "Principal",
    "as_mapping",
    "authenticate",
    "authenticate_request",
    "bearer_token",
    "cors_headers",
    "origin_allowed",
    "readable_streams",
    "session_cookie",
    "streams_granted",
    "verify_token",
]

MARKET = "market"
"""The ``streams`` claim value that grants every market stream."""

MARKET_NAMES: frozenset[str] = frozenset(
    {
        "pool-total",
        "product-status",
        "event-status",
        "event-result",
        "pool-dividend",
        "selection-status",
        "competitor-status",
        "reference",  # names of races, pools and runners, where the app streams them
    }
)
"""Streams that are market data, by name; only those the app serves count (below)."""

ALL_STREAMS: frozenset[str] = frozenset(STREAMS)
"""Every stream a client may ask for (``webapp.filters.STREAMS``: the catalog's and the app's)."""
MARKET_STREAMS: frozenset[str] = ALL_STREAMS & MARKET_NAMES
PRIVATE_STREAMS: frozenset[str] = ALL_STREAMS - MARKET_STREAMS
"""Everything not explicitly market data is private: a new catalog stream is closed by default."""

ACCESS_COOKIE = "tote_access_token"
"""Cookie a browser may carry the token in (``EventSource(url, {withCredentials: true})``)."""

COOKIE_GRACE_SECONDS = 300
MAX_TOKEN_TTL_SECONDS = 7 * 24 * 3600
"""The furthest ahead a token's ``exp`` may be (plus leeway).  A week: long enough for a
kiosk or a server-side reader, short enough that a leaked token dies by itself.  It also keeps
every time derived from ``exp`` (cookie ``Max-Age``, a stream's end) a sane, finite number."""
MAX_LEEWAY_SECONDS = 300.0
"""The most clock skew ``WEBAPP_TOKEN_LEEWAY_SECONDS`` may allow (``webapp.config`` checks it):
leeway stretches every token's life, so it must stay a skew allowance, not a second TTL."""
MAX_TOKEN_LENGTH = 4096
MAX_SUBJECT_LENGTH = 128
MIN_SECRET_LENGTH = 32


class AccessDenied(Exception):
    """The request may not have what it asked for: HTTP ``status`` with a stable ``reason``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class KeyringError(ValueError):
    """``WEBAPP_TOKEN_KEYS`` cannot be used; the message says why (never the key itself)."""


@dataclass(frozen=True, slots=True)
class Key:
    kid: str
    algorithm: str
    verify_key: object
    sign_key: object | None = None  # HS256 only: the web app never holds a private key

    def __repr__(self) -> str:  # keys never reach a log line
        return f"Key(kid={self.kid!r}, algorithm={self.algorithm!r})"


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys tokens may be signed with, by ``kid``; the first one signs new tokens."""

    keys: tuple[Key, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("the keyring is empty")

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """Parse ``{"<kid>": "<HS256 secret or PEM public key>", ...}``."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyringError(f"not JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(raw, dict) or not raw:
            raise KeyringError('must be a non-empty JSON object {"<kid>": "<key>", ...}')
        return cls(tuple(_key(str(kid), value) for kid, value in raw.items()))

    @property
    def signing(self) -> Key:
        return self.keys[0]

    def find(self, kid: object) -> Key | None:
        if kid is None:
            return self.keys[0] if len(self.keys) == 1 else None
        return next((k for k in self.keys if k.kid == kid), None)

    def __repr__(self) -> str:
        return f"Keyring(kids={[k.kid for k in self.keys]})"


def _key(kid: str, value: object) -> Key:
    if not kid or not isinstance(value, str) or not value.strip():
        raise KeyringError(f"key {kid!r}: every key must be a non-empty string")
    if value.lstrip().startswith("-----BEGIN"):
        try:
            public = serialization.load_pem_public_key(value.strip().encode())
        except ValueError:
            raise KeyringError(f"key {kid!r}: not a PEM public key") from None
        if isinstance(public, rsa.RSAPublicKey):
            return Key(kid, "RS256", public)
        if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1":
            return Key(kid, "ES256", public)
        raise KeyringError(f"key {kid!r}: only RSA and EC P-256 public keys are supported")
    if len(value) < MIN_SECRET_LENGTH:
        raise KeyringError(f"key {kid!r}: an HS256 secret needs at least {MIN_SECRET_LENGTH} chars")
    return Key(kid, "HS256", value, sign_key=value)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking (``sub``; ``None`` when anonymous) and which streams they may read."""

    sub: str | None
    streams: frozenset[str]
    expires_at: float | None = None

    @property
    def anonymous(self) -> bool:
        return self.sub is None


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The instance's access settings.  ``keyring=None`` and market data not open: no access
    control at all (local development only; refused on Cloud Run by ``webapp.config``)."""

    keyring: Keyring | None = None
    market_open: bool = False
    audience: str = "tote-webapp"
    issuer: str = "tote-realtime"
    leeway: float = 30.0
    query_tokens: bool = True
    """Whether ``?access_token=`` is read (``WEBAPP_QUERY_TOKENS``); when not, a request that
    carries one is refused (401 ``query-token``) rather than treated as anonymous."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.leeway <= MAX_LEEWAY_SECONDS:  # also refuses NaN
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS:g} seconds")

    @property
    def enabled(self) -> bool:
        return self.keyring is not None or self.market_open


def streams_granted(claim: Iterable[str]) -> frozenset[str]:
    """The streams a ``streams`` claim grants (``market`` expanded, unknown names dropped)."""
    granted: set[str] = set()
    for name in claim:
        if name == MARKET:
            granted |= MARKET_STREAMS
        elif name in ALL_STREAMS:
            granted.add(name)
    return frozenset(granted)


def verify_token(  # noqa: C901 - one check per JWT rule, each with its own denial reason
    token: str, keyring: Keyring, *, now: float, audience: str, issuer: str, leeway: float = 30.0
) -> Principal:
    """The principal a token names; raises :class:`AccessDenied` (401) with the reason."""

    def deny(reason: str, message: str) -> AccessDenied:
        return AccessDenied(401, reason, message)

    if len(token) > MAX_TOKEN_LENGTH:
        raise deny("malformed", f"token longer than {MAX_TOKEN_LENGTH} characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise deny("malformed", "not a JWT (header.payload.signature)") from None
    key = keyring.find(header.get("kid"))
    if key is None:
        raise deny("unknown-key", "the token's kid names no configured key")
    if header.get("alg") != key.algorithm:
        raise deny("algorithm", f"the key {key.kid!r} accepts {key.algorithm} only")
    try:
        claims = jwt.decode(
            token,
            key.verify_key,  # type: ignore[arg-type]  # a key object jwt accepts (Key.verify_key)
            algorithms=[key.algorithm],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["exp", "sub", "aud", "iss"],
                "verify_exp": False,  # checked below against ``now`` (a pure function)
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise deny("bad-signature", "signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise deny("audience", f"token is not for audience {audience!r}") from None
    except jwt.InvalidIssuerError:
        raise deny("issuer", f"token is not from issuer {issuer!r}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise deny("claims", f"token has no {exc.claim!r} claim") from None
    except jwt.PyJWTError:
        raise deny("malformed", "token cannot be decoded") from None
    exp, nbf, iat, sub, streams = (claims.get(k) for k in ("exp", "nbf", "iat", "sub", "streams"))
    if not _number(exp) or any(t is not None and not _number(t) for t in (nbf, iat)):
        raise deny("claims", "exp, nbf and iat must be finite numbers (seconds since 1970)")
    if exp > now + MAX_TOKEN_TTL_SECONDS + leeway:
        raise deny("claims", f"exp is more than {MAX_TOKEN_TTL_SECONDS} seconds ahead")
    if now >= exp + leeway:
        raise deny("expired", "token has expired")
    if nbf is not None and now < nbf - leeway:
        raise deny("not-yet-valid", "token is not valid yet (nbf)")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUBJECT_LENGTH:
        raise deny("claims", f"sub must be a non-empty string of at most {MAX_SUBJECT_LENGTH}")
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise deny("claims", 'streams must be a list of names, e.g. ["market"]')
    return Principal(sub.strip(), streams_granted(streams), float(exp))


def _number(value: object) -> TypeGuard[int | float]:
    """A finite JSON number: JSON parsers accept ``NaN`` and ``Infinity``, and ``now >= nan``
    is never true, so a NaN ``exp`` would never expire."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(token: str | None, policy: AccessPolicy, *, now: float) -> Principal:
    """Who the request is.  No token: anonymous (market streams if open, else 401)."""
    if not policy.enabled:
        return Principal(None, ALL_STREAMS)
    if token is None:
        if policy.market_open:
            return Principal(None, MARKET_STREAMS)
        raise AccessDenied(401, "missing", "a bearer token is required")
    if policy.keyring is None:  # market open, no keys: a token cannot be checked
        raise AccessDenied(401, "unknown-key", "this instance accepts no tokens")
    return verify_token(
        token,
        policy.keyring,
        now=now,
        audience=policy.audience,
        issuer=policy.issuer,
        leeway=policy.leeway,
    )


def authenticate_request(
    authorization: str | None,
    cookie: str | None,
    query: str | None,
    policy: AccessPolicy,
    *,
    now: float,
) -> Principal:
    """Who a request is, from the tokens it offers, in this order:

    1. ``Authorization: Bearer``: the client chose it for this request, so it always wins;
    2. the ``tote_access_token`` cookie, unless it has expired and a query token is offered:
       the browser keeps sending an expired cookie (it outlives its token on purpose), and it
       must not shadow a fresh token the client put in the URL;
    3. ``?access_token=``, only where ``policy.query_tokens`` allows it: elsewhere a request
       carrying one is refused (401 ``query-token``), never served as if anonymous.
    """
    if not policy.enabled:
        return Principal(None, ALL_STREAMS)
    query = _present(query)
    if query is not None and not policy.query_tokens:
        raise AccessDenied(
            401,
            "query-token",
            "?access_token= is not accepted here (it would be logged with the URL): send "
            "Authorization: Bearer, or the cookie POST /session sets",
        )
    header = bearer_token(authorization)
    if header is not None:
        return authenticate(header, policy, now=now)
    cookie = _present(cookie)
    if cookie is not None:
        try:
            return authenticate(cookie, policy, now=now)
        except AccessDenied as denied:
            if denied.reason != "expired" or query is None:
                raise
    return authenticate(query, policy, now=now)


def _present(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def readable_streams(principal: Principal, requested: frozenset[str] | None) -> frozenset[str]:
    """The streams to serve: all asked for (``requested``) or, when none named, all granted.

    Asking for a stream that is not granted is an error (403, or 401 for an anonymous client,
    who may still present a token), never a silently smaller stream.
    """
    if requested is None:
        if not principal.streams:
            raise AccessDenied(403, "no-streams", "the token grants no stream")
        return principal.streams
    refused = sorted(requested - principal.streams)
    if refused:
        if principal.anonymous:
            raise AccessDenied(401, "missing", f"a token is required for {', '.join(refused)}")
        raise AccessDenied(
            403, "forbidden-stream", f"the token does not grant {', '.join(refused)}"
        )
    return requested


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    return bool(origin) and ("*" in allowed or origin in allowed)


def cors_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS response headers for ``origin``.

    A named origin is echoed exactly, with credentials allowed (cookies, ``Authorization``);
    ``*`` allows any origin without credentials (browsers refuse credentials with ``*``).
    ``Vary: Origin`` always, so a cache never hands one origin's answer to another.
    """
    headers = {"Vary": "Origin"}
    if not origin_allowed(origin, allowed):
        return headers
    headers["Access-Control-Expose-Headers"] = "Retry-After, X-Request-Id"
    if origin in allowed:
        headers["Access-Control-Allow-Origin"] = str(origin)
        headers["Access-Control-Allow-Credentials"] = "true"
    else:
        headers["Access-Control-Allow-Origin"] = "*"
    return headers


def session_cookie(
    principal: Principal, *, now: float, https: bool, cross_site: bool
) -> dict[str, object]:
    """Attributes of the ``tote_access_token`` cookie a verified token is stored in.

    ``HttpOnly`` (page scripts never read it back), ``Secure`` over HTTPS, and
    ``SameSite=None`` only when pages on other sites (named ``CORS_ORIGINS``) must send it with
    ``EventSource(url, {withCredentials: true})`` (browsers demand ``Secure`` with it), then
    also ``Partitioned`` (CHIPS: a cookie jar per embedding site, which Chromium keeps even
    with third-party cookies blocked; a browser that blocks it anyway, e.g. Safari, needs a
    ``fetch``-based reader with ``Authorization: Bearer``); otherwise ``Lax``.  It outlives
    the token by :data:`COOKIE_GRACE_SECONDS`: the reconnect after a stream ends at the token's
    expiry then presents the expired token and is told ``expired`` (401), instead of arriving
    anonymous and, with open market data, silently getting less than it asked for.
    """
    if principal.expires_at is None:
        raise ValueError("only a verified token with an expiry goes into a cookie")
    max_age = max(int(principal.expires_at - now), 0) + COOKIE_GRACE_SECONDS
    return {
        "max_age": max_age,
        "httponly": True,
        "secure": https or cross_site,
        "samesite": "None" if cross_site else "Lax",
        "partitioned": cross_site,
        "path": "/",
    }


def as_mapping(denied: AccessDenied) -> Mapping[str, str]:
    """The JSON body of a denial (no token, no key material: only the reason and message)."""
    return {"error": denied.message, "reason": denied.reason}
