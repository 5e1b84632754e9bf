"""``POST /session`` and ``DELETE /session``: trade a bearer token for an ``HttpOnly`` cookie.

Browsers' ``EventSource`` cannot send ``Authorization``; a token in the URL would land in
Cloud Run's request log.  So a page posts its token once (``Authorization: Bearer``, which
also makes the request impossible to forge from another site's form) and the web app stores
it, verified, in the ``tote_access_token`` cookie that ``EventSource`` then sends by itself.
The cookie holds the token unchanged: it expires with it and grants exactly what it grants.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, request

from webapp.access import (
    ACCESS_COOKIE,
    AccessDenied,
    Principal,
    authenticate,
    bearer_token,
    cors_headers,
    origin_allowed,
    session_cookie,
)
from webapp.http_access import denied_response
from webapp.runtime import Runtime

__all__ = ["bp"]

bp = Blueprint("session", __name__)


def runtime() -> Runtime:
    return current_app.extensions["tote"]


def _https() -> bool:
    """Whether the cookie gets ``Secure``.  On Cloud Run always (every request reached it over
    HTTPS), never left to ``X-Forwarded-Proto``, which a client may send or omit itself."""
    if runtime().config.cloud_run:
        return True
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _cross_site(origins: tuple[str, ...]) -> bool:
    return any(o != "*" for o in origins)


@bp.route("/session", methods=["OPTIONS"])
def preflight() -> Response:
    config = runtime().config
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, config.cors_origins):
        response = jsonify(error=f"origin {origin!r} is not allowed (CORS_ORIGINS)")
        response.status_code = 403
        response.headers.update(cors_headers(origin, config.cors_origins))  # Vary: Origin
        return response
    response = Response(status=204)
    response.headers.update(cors_headers(origin, config.cors_origins))
    response.headers["Access-Control-Allow-Methods"] = "POST, DELETE, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.post("/session")
def open_session() -> Response:
    config = runtime().config
    try:
        if not config.access.enabled or config.token_keys is None:
            raise AccessDenied(401, "unknown-key", "this instance accepts no tokens")
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            raise AccessDenied(401, "missing", "send the token as Authorization: Bearer")
        now = time.time()
        principal: Principal = authenticate(token, config.access, now=now)
    except AccessDenied as denied:
        return denied_response(denied, config.cors_origins)
    response = jsonify(
        sub=principal.sub,
        streams=sorted(principal.streams),
        expires_at=int(principal.expires_at or 0),
    )
    attributes = session_cookie(
        principal, now=now, https=_https(), cross_site=_cross_site(config.cors_origins)
    )
    response.set_cookie(ACCESS_COOKIE, token, **attributes)  # type: ignore[arg-type]  # typed by session_cookie
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(cors_headers(request.headers.get("Origin"), config.cors_origins))
    return response


@bp.delete("/session")
def close_session() -> Response:
    config = runtime().config
    cross_site = _cross_site(config.cors_origins)
    response = Response(status=204)
    response.delete_cookie(
        ACCESS_COOKIE,
        path="/",
        secure=_https() or cross_site,
        httponly=True,
        samesite="None" if cross_site else "Lax",
        partitioned=cross_site,  # a partitioned cookie is only removed by a partitioned one
    )
    response.headers.update(cors_headers(request.headers.get("Origin"), config.cors_origins))
    return response
