"""``GET /state``: the present, so a client draws the whole board at once, then follows the stream.

Filterable exactly like ``/events`` (``types``, ``product_id``, ``event_id``, ``venue``,
``bet_type``) and authorised the same way: only the streams the caller's token grants
(``webapp/access.py``).  Bet lifecycle is private: besides being granted, it needs the app's
hook ``app.config["TOTE_PRIVATE_AUTHORISER"]`` (``webapp/http_access.py`` installs it) to say
yes.  The answer carries ``last_event_id``: connecting to ``/events?last_event_id=<it>`` (on
this or any other instance) continues with exactly the events released after the snapshot, no
gap and no duplicate.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

from flask import Blueprint, Request, Response, current_app, request

from webapp.access import (
    ALL_STREAMS,
    PRIVATE_STREAMS,
    AccessDenied,
    cors_headers,
)
from webapp.filters import FilterError
from webapp.http_access import PRIVATE_AUTHORISER, authorised_filter, denied_response
from webapp.runtime import Runtime
from webapp.schema import CONTRACT_VERSION

__all__ = ["bp", "private_allowed"]

bp = Blueprint("state", __name__)


def private_allowed(req: Request) -> bool:
    """Whether ``req`` may see private streams (bets): only if the app's hook says so."""
    hook: Callable[[Request], bool] | None = current_app.config.get(PRIVATE_AUTHORISER)
    return bool(hook is not None and hook(req))


def _json(status: int, body: bytes | dict[str, str]) -> Response:
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
    try:
        _principal, event_filter, streams = authorised_filter(config.access)
    except AccessDenied as denied:
        return denied_response(denied, config.cors_origins)
    except FilterError as exc:
        return _json(400, {"error": str(exc)})
    private = bool(streams & PRIVATE_STREAMS) and private_allowed(request)
    if not private:
        streams = streams - PRIVATE_STREAMS
    everything = ALL_STREAMS if private else ALL_STREAMS - PRIVATE_STREAMS
    restricted = dataclasses.replace(event_filter, streams=frozenset(streams))
    # Nothing but the access rule narrows it: the state's cached answer serves it.
    whole = dataclasses.replace(event_filter, streams=None).is_everything and streams >= everything
    if not rt.ready:
        return _json(503, {"error": "this instance is still building its state (warming up)"})
    items, count, last_event_id = rt.bus.snapshot_body(
        None if whole else restricted.matches, private=private
    )
    head = {
        "version": CONTRACT_VERSION,
        "instance": rt.bus.epoch,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "last_event_id": last_event_id,
        "count": count,
    }
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode()
    return _json(200, b"".join((prefix, b',"items":[', items, b"]}")))
