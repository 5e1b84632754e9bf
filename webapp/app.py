"""The Flask app factory: ``create_app(config)``.

``create_app()`` reads the environment (``webapp.config``); tests pass a :class:`Config`.  The
factory builds the instance's :class:`~webapp.runtime.Runtime` (bus, limiter, Pub/Sub
subscriptions, slow-client reaper), registers the blueprints, and arranges a graceful
shutdown.  Serve it with ``gunicorn -c webapp/gunicorn_conf.py 'webapp.app:create_app()'``.
"""

from __future__ import annotations

import atexit
import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from webapp import dashboard_blueprint, sse_blueprint, state_blueprint, status_blueprint
from webapp.config import Config
from webapp.runtime import Runtime

__all__ = ["create_app"]


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["TOTE"] = config
    runtime = Runtime(config).start()
    app.extensions["tote"] = runtime
    app.register_blueprint(sse_blueprint.bp)
    app.register_blueprint(status_blueprint.bp)
    app.register_blueprint(state_blueprint.bp)
    app.register_blueprint(dashboard_blueprint.bp)

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
