"""The Flask app factory: ``create_app(config)``.

``create_app()`` reads the environment (``webapp.config``); tests pass a :class:`Config`.  The
factory builds the instance's :class:`~webapp.runtime.Runtime` (bus, limiter, Pub/Sub
subscriptions, slow-client reaper), registers the blueprints, and arranges a graceful
shutdown.  Serve it with ``gunicorn -c webapp/gunicorn_conf.py 'webapp.app:create_app()'``.
"""

from __future__ import annotations

import atexit
import logging

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp import (
    dashboard_blueprint,
    http_access,
    logs,
    session_blueprint,
    sse_blueprint,
    state_blueprint,
    status_blueprint,
)
from webapp.access import AccessDenied
from webapp.config import Config
from webapp.runtime import Runtime

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure(config.project)
    if not config.access.enabled:
        log.warning(
            "access control is off (neither WEBAPP_TOKEN_KEYS nor WEBAPP_MARKET_DATA_OPEN is "
            "set): every stream, bet-lifecycle included, is public; local development only"
        )
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["TOTE"] = config
    runtime = Runtime(config).start()
    app.extensions["tote"] = runtime
    # Endpoints that mix market and private data ask this hook (webapp/http_access.py).
    app.config[http_access.PRIVATE_AUTHORISER] = http_access.private_authoriser
    app.register_blueprint(sse_blueprint.bp)
    app.register_blueprint(status_blueprint.bp)
    app.register_blueprint(state_blueprint.bp)
    app.register_blueprint(dashboard_blueprint.bp)
    app.register_blueprint(session_blueprint.bp)

    @app.before_request
    def start_request_context() -> None:
        context = logs.RequestContext.from_headers(
            request.headers.get("X-Cloud-Trace-Context"), request.headers.get("X-Request-Id")
        )
        g.log_context_token = logs.request_context.set(context)
        g.request_id = context.request_id

    @app.after_request
    def add_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.teardown_request
    def end_request_context(exc: BaseException | None) -> None:
        token = g.pop("log_context_token", None)
        if token is not None:
            logs.request_context.reset(token)

    @app.errorhandler(AccessDenied)
    def access_denied(denied: AccessDenied) -> Response:
        # An endpoint that lets the private-data hook's denial through still answers 401/403.
        return http_access.denied_response(denied, config.cors_origins)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=exc.description or exc.name), exc.code or 500

    atexit.register(runtime.shutdown)
    return app


def shutdown_app(app: Flask) -> None:
    """End streams and remove this instance's subscriptions (idempotent)."""
    runtime: Runtime | None = app.extensions.get("tote")
    if runtime is not None:
        runtime.shutdown()
