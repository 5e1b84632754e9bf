"""``GET /health`` (readiness: 200 once every typed topic is subscribed) and ``GET /status``."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, request

from webapp.access import cors_headers, is_authorized
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
    return jsonify(status=state, detail="not every typed topic is subscribed yet"), 503


@bp.get("/status")
def status() -> Response | tuple[Response, int]:
    rt = runtime()
    config = rt.config
    if not is_authorized(
        config.token, request.headers.get("Authorization"), request.args.get("access_token")
    ):
        return jsonify(error="missing or wrong bearer token"), 401
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
            "held": stats.pending,
            "rejected": sum(s.rejected for s in subscriber.states) if subscriber else 0,
        },
        latency_ms={
            "pubsub_to_bus": rt.bus.pubsub_delay.summary(),
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
