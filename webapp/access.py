"""Access decisions for HTTP requests: the optional bearer token and CORS.

The token may come as ``Authorization: Bearer <token>`` or, because ``EventSource`` cannot set
headers, as ``?access_token=``; gunicorn's access log is configured to omit query strings so
the token never lands in a log.  Comparison is constant-time.
"""

from __future__ import annotations

import hmac

__all__ = ["bearer_token", "cors_headers", "is_authorized", "origin_allowed"]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_authorized(expected: str | None, authorization: str | None, query_token: str | None) -> bool:
    """True when no token is configured, or the request carries it."""
    if not expected:
        return True
    offered = bearer_token(authorization) or query_token or ""
    return hmac.compare_digest(offered.encode(), expected.encode())


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    return bool(origin) and ("*" in allowed or origin in allowed)


def cors_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS response headers for ``origin`` (none when it is not allowed)."""
    if not origin_allowed(origin, allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": "*" if "*" in allowed else str(origin),
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }
