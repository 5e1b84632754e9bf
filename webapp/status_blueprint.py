"""``GET /health`` (readiness: 200 once every typed topic is subscribed), ``GET /healthz``
(liveness: the process answers and its dispatcher thread runs) and ``GET /status``.

Liveness deliberately ignores Pub/Sub: a Pub/Sub outage makes instances unready (no new
streams routed to a starting instance) but must not make Cloud Run restart every instance,
which would drop every open stream without fixing anything.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, request

from webapp.access import AccessDenied, cors_headers
from webapp.http_access import current_principal, denied_response
from webapp.runtime import Runtime

__all__ = ["bp"]

bp = Blueprint("status", __name__)


def runtime() -> Runtime:
    return current_app.extensions["tote"]


@bp.get("/health")
def health() -> tuple[Response, int]:
    rt = runtime()
    if rt.ready:
        return jsonify(status="ok"), 200
    state = "stopping" if rt.bus.closed else "starting"
    detail = (
        "replaying the subscription window (warm-up)"
        if rt.bus.warming and not rt.bus.closed
        else "not every topic is subscribed yet"
    )
    return jsonify(status=state, detail=detail), 503


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    rt = runtime()
    if rt.bus.closed or rt.dispatcher.alive:
        return jsonify(status="alive"), 200
    return jsonify(status="broken", detail="the SSE dispatcher thread has stopped"), 503


@bp.get("/status")
def status() -> Response | tuple[Response, int]:
    rt = runtime()
    config = rt.config
    if config.access.enabled:  # operational detail: any valid token, never anonymous
        try:
            if current_principal(config.access).anonymous:
                raise AccessDenied(401, "missing", "/status needs a bearer token")
        except AccessDenied as denied:
            return denied_response(denied, config.cors_origins)
    stats = rt.bus.stats()
    span = (
        round(stats.newest_at - stats.oldest_at, 3)
        if stats.newest_at is not None and stats.oldest_at is not None
        else None
    )
    subscriber = rt.subscriber
    response = jsonify(
        instance=stats.epoch,
        ready=rt.ready,
        warming=stats.warming,
        state={"entities": len(rt.bus.state), "reference": len(rt.bus.reference)},
        pubsub={
            "enabled": config.pubsub_enabled,
            "project": config.project,
            "subscriptions": [s.as_dict() for s in subscriber.states] if subscriber else [],
        },
        clients={
            "connected": stats.clients,
            "total": stats.clients_total,
            "dropped": stats.dropped_clients,
            "limit_per_client": config.max_streams_per_client,
            "limit_total": config.max_streams,
        },
        events={
            "in": stats.events_in,
            "out": stats.events_out,
            "duplicates": stats.duplicates,
            "late": stats.late,
            "unchanged_reference": stats.unchanged_reference,
            "held": stats.pending,
            "rejected": sum(s.rejected for s in subscriber.states) if subscriber else 0,
        },
        latency_ms={
            "pubsub_to_bus": rt.bus.pubsub_delay.summary(),
            "reorder_hold": rt.bus.holds.summary(),
            "bus_to_written": rt.dispatcher.event_delay.summary(),
            "dispatch_tick": rt.dispatcher.tick_duration.summary(),
        },
        buffer={
            "size": stats.buffer_size,
            "capacity": stats.buffer_capacity,
            "oldest_id": stats.oldest_id,
            "newest_id": stats.newest_id,
            "span_seconds": span,
            "newest_age_seconds": round(time.time() - stats.newest_at, 3)
            if stats.newest_at
            else None,
        },
    )
    response.headers.update(cors_headers(request.headers.get("Origin"), config.cors_origins))
    return response
