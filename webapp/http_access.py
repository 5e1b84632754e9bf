"""The Flask shell around ``webapp.access``: read the request's credentials, answer denials.

Kept apart from the blueprints so ``/events`` and ``/status`` decide the same way, and apart
from ``access.py`` so the decisions stay pure functions.  A denial is JSON
``{"error": "...", "reason": "..."}`` (401 with ``WWW-Authenticate: Bearer``, or 403) and is
logged with its reason and subject, never with the token.
"""

from __future__ import annotations

import logging
import time

from flask import Request, Response, current_app, jsonify, request

from webapp.access import (
    ACCESS_COOKIE,
    PRIVATE_STREAMS,
    AccessDenied,
    AccessPolicy,
    Principal,
    as_mapping,
    authenticate_request,
    cors_headers,
    readable_streams,
)
from webapp.filters import FILTER_PARAMS, EventFilter

__all__ = [
    "PRIVATE_AUTHORISER",
    "authorised_filter",
    "current_principal",
    "denied_response",
    "limit_key",
    "private_authoriser",
]

PRIVATE_AUTHORISER = "TOTE_PRIVATE_AUTHORISER"
"""``app.config`` key of the hook other endpoints (``GET /state``) ask whether a request may
see private data; ``create_app`` installs :func:`private_authoriser` there."""

log = logging.getLogger(__name__)


def current_principal(policy: AccessPolicy) -> Principal:
    """Who the current request is; raises :class:`AccessDenied`."""
    return _principal(request, policy)


def authorised_filter(policy: AccessPolicy) -> tuple[Principal, EventFilter, frozenset[str]]:
    """Who the current request is, the filter its query asks for and which of the asked-for
    streams its credentials may read: one decision for ``/events`` and ``/state``.

    Raises :class:`AccessDenied` (401/403) or :class:`~webapp.filters.FilterError` (400).
    """
    principal = current_principal(policy)
    event_filter = EventFilter.from_query({k: request.args.getlist(k) for k in FILTER_PARAMS})
    return principal, event_filter, readable_streams(principal, event_filter.streams)


def _principal(req: Request, policy: AccessPolicy) -> Principal:
    return authenticate_request(
        req.headers.get("Authorization"),
        req.cookies.get(ACCESS_COOKIE),
        req.args.get("access_token"),
        policy,
        now=time.time(),
    )


def private_authoriser(req: Request) -> bool:
    """Whether ``req`` may see private data (bets): its token grants every private stream.

    ``False`` only for a request that is allowed in but not to bets: anonymous with open
    market data, or a valid token without ``bet-lifecycle``.  A bad or expired token, or no
    token where one is required, raises :class:`AccessDenied` (401) instead of quietly
    answering with market data only; the app's error handler turns it into the same JSON
    401 as ``/events`` if the endpoint does not catch it.
    """
    policy: AccessPolicy = current_app.extensions["tote"].config.access
    return _principal(req, policy).streams >= PRIVATE_STREAMS


def limit_key(principal: Principal, address: str) -> str:
    """Streams are counted per token subject where there is one, else per client address."""
    return f"sub:{principal.sub}" if principal.sub is not None else address


def denied_response(denied: AccessDenied, cors_origins: tuple[str, ...]) -> Response:
    log.info(
        "access denied (%s %s): %s",
        denied.status,
        denied.reason,
        denied.message,
        extra={"json_fields": {"event": "access-denied", "reason": denied.reason}},
    )
    response = jsonify(as_mapping(denied))
    response.status_code = denied.status
    if denied.status == 401:
        error = "" if denied.reason == "missing" else ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = f'Bearer realm="tote"{error}'
    elif denied.status == 403:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tote", error="insufficient_scope"'
    response.headers.update(cors_headers(request.headers.get("Origin"), cors_origins))
    return response
