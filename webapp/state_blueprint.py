"""``GET /state``: the present, so a client draws the whole board at once, then follows the stream.

Filterable exactly like ``/events`` (``types``, ``product_id``, ``event_id``, ``venue``,
``bet_type``).  The answer carries ``last_event_id``: connecting to
``/events?last_event_id=<it>`` (on this or any other instance) continues with exactly the
events released after the snapshot, no gap and no duplicate.  Bet lifecycle is private: it is
left out unless the request is authorised for it by the hook in
``app.config["TOTE_PRIVATE_AUTHORISER"]`` (a ``callable(request) -> bool``; none by default).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from flask import Blueprint, Request, Response, current_app, request

from webapp.access import cors_headers, is_authorized
from webapp.filters import EventFilter, FilterError
from webapp.runtime import Runtime
from webapp.schema import CONTRACT_VERSION

__all__ = ["PRIVATE_AUTHORISER", "bp", "private_allowed"]

bp = Blueprint("state", __name__)

PRIVATE_AUTHORISER = "TOTE_PRIVATE_AUTHORISER"
"""``app.config`` key of the hook that says whether a request may see bets."""

FILTER_PARAMS = ("types", "product_id", "event_id", "venue", "bet_type")


def private_allowed(req: Request) -> bool:
    """Whether ``req`` may see private streams (bets): only if the app's hook says so."""
    hook: Callable[[Request], bool] | None = current_app.config.get(PRIVATE_AUTHORISER)
    return bool(hook is not None and hook(req))


def _json(status: int, body: bytes | dict) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = Response(data, status=status, mimetype="application/json")
    config = current_app.extensions["tote"].config
    response.headers.update(cors_headers(request.headers.get("Origin"), config.cors_origins))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/state")
def state() -> Response:
    rt: Runtime = current_app.extensions["tote"]
    config = rt.config
    if not is_authorized(
        config.token, request.headers.get("Authorization"), request.args.get("access_token")
    ):
        return _json(401, {"error": "missing or wrong bearer token"})
    try:
        event_filter = EventFilter.from_query({k: request.args.getlist(k) for k in FILTER_PARAMS})
    except FilterError as exc:
        return _json(400, {"error": str(exc)})
    if not rt.ready:
        return _json(503, {"error": "this instance is still building its state (warming up)"})
    matches = None if event_filter.is_everything else event_filter.matches
    items, count, last_event_id = rt.bus.snapshot_body(matches, private=private_allowed(request))
    head = {
        "version": CONTRACT_VERSION,
        "instance": rt.bus.epoch,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "last_event_id": last_event_id,
        "count": count,
    }
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode()
    body = b"".join((prefix, b',"items":[', items, b"]}"))
    return _json(200, body)
