"""gunicorn settings for the control API (Cloud Run ready).

One worker: the Tote websocket and its frame buffer belong to one process.  A few threads serve
``/status`` while ``/stop`` waits for the flush.  On SIGTERM (Cloud Run, ``make`` stopping the
local system) gunicorn ends the worker gracefully and ``worker_exit`` closes the socket and
flushes every frame already received before the process exits.
"""

from __future__ import annotations

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = 1
threads = 4
worker_class = "gthread"
timeout = 0  # the worker's main thread is not blocked by the client thread; never kill it
graceful_timeout = 30
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's control socket lives at one path per user: several local services (and parallel
# tests) would fight over it, and the connector is controlled through its HTTP API anyway.
control_socket_disable = True


def _json_logs(log: object) -> None:
    """Route gunicorn's own log lines through the connector's redacted JSON handler."""
    import logging

    from connector.logs import configure_logging
    from connector.settings import Settings

    try:
        secrets = Settings.from_env().secrets
    except ValueError:  # bad settings are reported by the app itself
        secrets = ()
    configure_logging(secrets, loglevel.upper())
    error_log = getattr(log, "error_log", None)
    if isinstance(error_log, logging.Logger):
        error_log.handlers.clear()
        error_log.propagate = True


def on_starting(server: object) -> None:
    _json_logs(getattr(server, "log", None))


def post_worker_init(worker: object) -> None:
    _json_logs(getattr(worker, "log", None))


def worker_exit(server: object, worker: object) -> None:
    from connector.api import shutdown_services

    shutdown_services()
