"""``GET /events``: the Server-Sent Events endpoint (a thin shell over bus, filters, replay).

Query: ``types``, ``product_id``, ``event_id``, ``venue``, ``bet_type`` (comma lists or
repeated; see ``webapp/filters.py``), ``last_event_id`` (first
connection; the ``Last-Event-ID`` header wins), ``access_token`` (a fallback for clients that
can send neither ``Authorization`` nor the ``tote_access_token`` cookie; see ``access.py``).
Without ``types`` a client gets every stream its token grants; naming a stream it does not
grant is a 403.  Under gunicorn the stream is handed to the dispatcher after its opening (see
``webapp/dispatcher.py``); elsewhere (Flask's test client, the werkzeug dev server) its request
thread writes it.  Errors are JSON ``{"error": ...}`` with 400 (bad filter), 401/403 (token,
with a ``reason``), 429 (too many streams for this token subject or address), 503 (instance
full/stopping).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify, request

from webapp import sse
from webapp.access import (
    ALL_STREAMS,
    AccessDenied,
    Principal,
    cors_headers,
    origin_allowed,
)
from webapp.filters import EventFilter, FilterError
from webapp.http_access import authorised_filter, denied_response, limit_key
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
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Last-Event-ID, Cache-Control"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.get("/events")
def events() -> Response:
    rt = runtime()
    config = rt.config
    try:
        principal, event_filter, streams = authorised_filter(config.access)
    except AccessDenied as denied:
        return denied_response(denied, config.cors_origins)
    except FilterError as exc:
        return _error(400, str(exc))
    if streams != ALL_STREAMS:  # only what the token grants, even when no types were named
        event_filter = dataclasses.replace(event_filter, streams=streams)
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if last_id and len(last_id) > _MAX_ID_LENGTH:
        return _error(400, f"Last-Event-ID is longer than {_MAX_ID_LENGTH} characters")
    if rt.bus.closed:
        return _error(503, "this instance is shutting down", **{"Retry-After": "1"})
    if request.method == "HEAD":  # headers only: never open a stream nobody will read
        response = Response(status=200, headers=sse.HEADERS)
        response.headers.update(cors_headers(request.headers.get("Origin"), config.cors_origins))
        return response
    address = client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), config.trusted_proxy_hops
    )
    key = limit_key(principal, address)
    admission = rt.limiter.admit(key)
    if admission is Admission.CLIENT_LIMIT:
        who = f"for {principal.sub!r}" if principal.sub is not None else f"from {address}"
        return _error(
            429,
            f"too many concurrent streams {who} (limit {config.max_streams_per_client})",
            **{"Retry-After": "5"},
        )
    if admission is Admission.SERVER_FULL:
        return _error(
            503, "this instance holds its maximum number of streams", **{"Retry-After": "5"}
        )

    release = _once(lambda: rt.limiter.release(key))
    streaming = False
    try:  # from here on every path gives the slot back: a leak would 429 this client for good
        response = _open_stream(rt, event_filter, last_id, address, release, principal)
        streaming = response.status_code == 200
        return response
    finally:
        if not streaming:
            release()


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """``action`` made idempotent (a slot is released by whichever path ends the stream first)."""
    done = threading.Lock()

    def run() -> None:
        if done.acquire(blocking=False):
            action()

    return run


def _open_stream(
    rt: Runtime,
    event_filter: EventFilter,
    last_id: str | None,
    address: str,
    release: Callable[[], None],
    principal: Principal,
) -> Response:
    """The stream's response; the caller releases the slot unless this returns a 200."""
    config = rt.config
    sock: socket.socket | None = request.environ.get("gunicorn.socket")
    protocol = request.environ.get("SERVER_PROTOCOL", "")
    handover = sock is not None and request.method == "GET" and protocol in ("HTTP/1.0", "HTTP/1.1")
    if sock is not None and config.send_buffer_bytes:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.send_buffer_bytes)

    def unblock(reason: str) -> None:
        # Shutdown and token expiry end the stream cleanly (the dispatcher lets the server
        # write the final chunk); a slow client's socket is cut to unblock its writer.
        if sock is not None and reason not in ("shutdown", "expired"):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    try:
        plan = rt.bus.plan(last_id)
    except ValueError:  # an id the replay code cannot read is the client's error, not ours
        return _error(400, "Last-Event-ID is not an id this service issued")
    try:
        client = rt.bus.connect(
            event_filter, plan.after, address, on_drop=unblock, floor=plan.floor
        )
    except RuntimeError:
        return _error(503, "this instance is shutting down", **{"Retry-After": "1"})
    if principal.expires_at is not None:  # the stream ends with its token
        rt.end_at(client, principal.expires_at + config.access.leeway)

    try:
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
    except BaseException:
        rt.bus.disconnect(client)
        raise

    def closed() -> None:
        # A body never iterated (client gone before the first byte) skips the generator's
        # finally: release its slot and bus cursor here too.  Both are idempotent.
        rt.bus.disconnect(client)
        release()

    response.call_on_close(closed)
    return response
