"""The control API (Flask): health, status, start/stop, and a Pub/Sub self-test.

Served by gunicorn with one worker (the Tote socket belongs to one process) and a few threads::

    gunicorn -c connector/gunicorn_conf.py 'connector.api:create_app()'

Cloud Scheduler calls ``POST /start`` at 06:00 and ``POST /stop`` at 23:00 (UK time) with a
Google OIDC token; locally a shared ``CONTROL_TOKEN`` bearer works.  ``GET`` endpoints are open
(Cloud Run's IAM guards them in the cloud) and never show a secret.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.auth import Authorizer, Verifier
from connector.autostart import Autostart
from connector.forwarder import BatchPublisher
from connector.logs import (
    Redactor,
    configure_logging,
    enter_request,
    leave_request,
    request_fields,
)
from connector.queryparams import ParamError, parse_bounded_int
from connector.service import ConnectorService
from connector.settings import Settings

__all__ = ["begin_shutdown", "create_app", "finish_shutdown", "shutdown_services"]

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
"""An ``X-Request-Id`` a caller may choose (else one is made): short, printable, no spaces."""

_SERVICES: list[ConnectorService] = []
"""Services created in this process, for the gunicorn SIGTERM / ``worker_exit`` hooks."""

_AUTOSTARTS: list[Autostart] = []
"""Racing-window watchers of this process (``AUTOSTART``), closed before the services stop."""

_shutdown_lock = threading.Lock()
_shutdown_thread: threading.Thread | None = None


def shutdown_services() -> None:
    """Stop every service of this process: close sockets, flush frames (SIGTERM path)."""
    while _AUTOSTARTS:
        _AUTOSTARTS.pop().close()
    while _SERVICES:
        service = _SERVICES.pop()
        try:
            service.shutdown()
        except Exception:
            log.exception("shutdown failed")


def begin_shutdown() -> threading.Thread:
    """Start ``shutdown_services`` on a thread now (idempotent); returns that thread.

    Called from the SIGTERM handler so closing the socket and flushing start the moment Cloud
    Run asks, in parallel with gunicorn draining HTTP connections (which an idle client could
    otherwise stretch to the whole grace period, leaving no time to flush).
    """
    global _shutdown_thread
    with _shutdown_lock:
        if _shutdown_thread is None:
            _shutdown_thread = threading.Thread(
                target=shutdown_services, name="connector-shutdown", daemon=True
            )
            _shutdown_thread.start()
        return _shutdown_thread


def finish_shutdown(timeout: float) -> bool:
    """Start the shutdown if needed and wait for it (``worker_exit``); ``False`` if late."""
    thread = begin_shutdown()
    thread.join(timeout)
    return not thread.is_alive()


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
    def bind_log_context() -> None:
        """Every line logged for this request carries its trace and a request id."""
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        fields = request_fields(
            request.headers.get("X-Cloud-Trace-Context"), settings.project, request_id
        )
        g.request_id = request_id
        g.log_token = enter_request(fields)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.teardown_request
    def unbind_log_context(_exc: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            leave_request(token)

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
        try:
            window = parse_bounded_int(
                request.args.get("latency_window"), "latency_window", 10_000, 1, 1_000_000
            )
        except ParamError as exc:
            return error(400, str(exc))
        body = service.status_dict(window)
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
        autostart = Autostart(service, settings.racing_window)
        _AUTOSTARTS.append(autostart)
        autostart.start()
    return app


def _brief(service: ConnectorService) -> dict[str, Any]:
    stats = service.forwarder.snapshot()
    return {
        "state": str(service.status.state),
        "published": stats.published,
        "buffered": stats.buffered,
        "refused": stats.refused,
    }
