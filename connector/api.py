"""The control API (Flask): health, status, start/stop, and a Pub/Sub self-test.

Served by gunicorn with one worker (the Tote socket belongs to one process) and a few threads::

    gunicorn -c connector/gunicorn_conf.py 'connector.api:create_app()'

Cloud Scheduler calls ``POST /start`` at 06:00 and ``POST /stop`` at 23:00 (UK time) with a
Google OIDC token; locally a shared ``CONTROL_TOKEN`` bearer works.  ``GET`` endpoints are open
(Cloud Run's IAM guards them in the cloud) and never show a secret.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.auth import Authorizer, Verifier
from connector.forwarder import BatchPublisher
from connector.logs import Redactor, configure_logging
from connector.service import ConnectorService
from connector.settings import Settings

__all__ = ["create_app", "shutdown_services"]

log = logging.getLogger(__name__)

_SERVICES: list[ConnectorService] = []
"""Services created in this process, for the gunicorn ``worker_exit`` hook."""


def shutdown_services() -> None:
    """Stop every service of this process: close sockets, flush frames (SIGTERM path)."""
    while _SERVICES:
        service = _SERVICES.pop()
        try:
            service.shutdown()
        except Exception:
            log.exception("shutdown failed")


def _audiences(settings: Settings) -> list[str]:
    """Acceptable OIDC audiences: the configured one, else this service's own URL."""
    if settings.oidc_audience:
        return [settings.oidc_audience]
    host = request.host
    return [
        f"{scheme}://{host}{path}" for scheme in ("https", "http") for path in ("", request.path)
    ]


def create_app(  # noqa: C901 - the app factory: each route is a small nested function
    settings: Settings | None = None,
    *,
    publisher: BatchPublisher | None = None,
    verifier: Verifier | None = None,
) -> Flask:
    """Build the app (and the connector service behind it) from ``settings`` or the env."""
    settings = settings or Settings.from_env()
    configure_logging(settings.secrets, settings.log_level)
    redact = Redactor(settings.secrets)
    service = ConnectorService(settings, publisher)
    _SERVICES.append(service)
    authorizer = Authorizer(settings.control_token, settings.allowed_invokers, verifier)

    app = Flask(__name__)
    app.config["CONNECTOR"] = service
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider has it

    def error(status: int, message: str) -> Any:
        return jsonify(error=redact(message), status=status), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return error(exc.code or 500, exc.description or exc.name)

    @app.before_request
    def authenticate() -> Any:
        if request.method != "POST":
            return None
        decision = authorizer.decide(request.headers.get("Authorization"), _audiences(settings))
        if not decision.allowed:
            log.warning(
                "control API refused %s %s: %s",
                request.method,
                request.path,
                decision.reason,
                extra={"json_fields": {"status": decision.status}},
            )
            return error(decision.status, decision.reason)
        request.environ["tote.principal"] = decision.principal
        return None

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", state=str(service.status.state))

    @app.get("/status")
    def status() -> Any:
        raw = request.args.get("latency_window", "10000")
        if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
            return error(400, "latency_window must be an integer between 1 and 1000000")
        body = service.status_dict(int(raw))
        body["auth"] = authorizer.counters()  # tokens rejected (401), verifier failures (503)
        return jsonify(redact.value(body))

    @app.post("/start")
    def start() -> Any:
        started = service.start()
        log.info(
            "POST /start by %s: %s",
            request.environ.get("tote.principal"),
            "started" if started else "already running",
        )
        return jsonify(started=started, already_running=not started, **_brief(service))

    @app.post("/stop")
    def stop() -> Any:
        stopped = service.stop()
        log.info(
            "POST /stop by %s: %s",
            request.environ.get("tote.principal"),
            "stopped" if stopped else "was not running",
        )
        return jsonify(stopped=stopped, already_stopped=not stopped, **_brief(service))

    @app.post("/test-pubsub")
    def test_pubsub() -> Any:
        try:
            message_id = service.test_publish()
        except Exception as exc:  # noqa: BLE001 - any publish failure is reported as a 502
            log.error("test publish failed: %s", exc)
            return error(502, f"publish to {settings.ingress_topic} failed: {type(exc).__name__}")
        return jsonify(message_id=message_id, topic=settings.ingress_topic)

    if settings.autostart:
        service.start()
    return app


def _brief(service: ConnectorService) -> dict[str, Any]:
    stats = service.forwarder.snapshot()
    return {
        "state": str(service.status.state),
        "published": stats.published,
        "buffered": stats.buffered,
        "refused": stats.refused,
    }
