"""``GET /events``: the Server-Sent Events endpoint (a thin shell over bus, filters, replay).

Query: ``types``, ``product_id``, ``event_id`` (comma lists), ``last_event_id`` (first
connection; the ``Last-Event-ID`` header wins), ``access_token`` (when ``SSE_TOKEN`` is set and
the client cannot send ``Authorization``).  Under gunicorn the stream is handed to the
dispatcher after its opening (see ``webapp/dispatcher.py``); elsewhere (Flask's test client,
the werkzeug dev server) its request thread writes it.  Errors are JSON ``{"error": ...}`` with 400 (bad
filter), 401 (token), 429 (too many streams from this address), 503 (instance full/stopping).
"""

from __future__ import annotations

import contextlib
import socket

from flask import Blueprint, Response, current_app, jsonify, request

from webapp import sse
from webapp.access import cors_headers, is_authorized, origin_allowed
from webapp.filters import EventFilter, FilterError
from webapp.limits import Admission, client_address
from webapp.runtime import Runtime
from webapp.stream import event_stream, handed_over_stream

__all__ = ["bp"]

bp = Blueprint("sse", __name__)

_MAX_ID_LENGTH = 64


def runtime() -> Runtime:
    return current_app.extensions["tote"]


def _error(status: int, message: str, **headers: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers)
    response.headers.update(
        cors_headers(request.headers.get("Origin"), runtime().config.cors_origins)
    )
    return response


@bp.route("/events", methods=["OPTIONS"])
def preflight() -> Response:
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, runtime().config.cors_origins):
        return _error(403, f"origin {origin!r} is not allowed (CORS_ORIGINS)")
    response = Response(status=204)
    response.headers.update(cors_headers(origin, runtime().config.cors_origins))
    response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Last-Event-ID, Cache-Control"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.get("/events")
def events() -> Response:  # noqa: C901 - one request handler; the stream decisions live in webapp/sse.py
    rt = runtime()
    config = rt.config
    if not is_authorized(
        config.token, request.headers.get("Authorization"), request.args.get("access_token")
    ):
        return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
    try:
        event_filter = EventFilter.from_query(
            {k: request.args.getlist(k) for k in ("types", "product_id", "event_id")}
        )
    except FilterError as exc:
        return _error(400, str(exc))
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if last_id and len(last_id) > _MAX_ID_LENGTH:
        return _error(400, f"Last-Event-ID is longer than {_MAX_ID_LENGTH} characters")
    if rt.bus.closed:
        return _error(503, "this instance is shutting down", **{"Retry-After": "1"})
    if request.method == "HEAD":  # headers only: never open a stream nobody will read
        return Response(status=200, headers=sse.HEADERS)
    address = client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), config.trusted_proxy_hops
    )
    admission = rt.limiter.admit(address)
    if admission is Admission.CLIENT_LIMIT:
        return _error(
            429,
            f"too many concurrent streams from {address} (limit {config.max_streams_per_client})",
            **{"Retry-After": "5"},
        )
    if admission is Admission.SERVER_FULL:
        return _error(
            503, "this instance holds its maximum number of streams", **{"Retry-After": "5"}
        )

    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            rt.limiter.release(address)

    sock: socket.socket | None = request.environ.get("gunicorn.socket")
    protocol = request.environ.get("SERVER_PROTOCOL", "")
    handover = sock is not None and request.method == "GET" and protocol in ("HTTP/1.0", "HTTP/1.1")
    if sock is not None and config.send_buffer_bytes:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.send_buffer_bytes)

    def unblock(reason: str) -> None:
        if sock is not None and reason != "shutdown":
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    try:
        plan = rt.bus.plan(last_id)
        client = rt.bus.connect(event_filter, plan.after, address, on_drop=unblock)
    except RuntimeError:
        release()
        return _error(503, "this instance is shutting down", **{"Retry-After": "1"})

    if handover and sock is not None:
        body = handed_over_stream(
            rt, client, sock, chunked=protocol == "HTTP/1.1", gap=plan.gap, on_finish=release
        )
    else:
        body = event_stream(
            rt.bus,
            client,
            gap=plan.gap,
            heartbeat=config.heartbeat_seconds,
            retry_ms=config.retry_ms,
            flush_interval=config.flush_interval,
            on_finish=release,
        )
    response = Response(body, status=200, headers=sse.HEADERS)
    response.headers.update(cors_headers(request.headers.get("Origin"), config.cors_origins))

    def closed() -> None:
        # A body never iterated (client gone before the first byte) skips the generator's
        # finally: release its slot and bus cursor here too.  Both are idempotent.
        rt.bus.disconnect(client)
        release()

    response.call_on_close(closed)
    return response
