"""gunicorn settings for the control API (Cloud Run ready).

One worker: the Tote websocket and its frame buffer belong to one process.  Its threads serve
``/status`` while ``/stop`` waits for the flush; the worker class bounds every request read so
clients sending half a request (or nothing) cannot hold them (``connector.gunicorn_worker``).

Shutdown fits Cloud Run's 10 s between SIGTERM and SIGKILL: the worker's SIGTERM handler starts
the connector's shutdown at once (close the socket, flush with the ``FLUSH_TIMEOUT_SECONDS``
deadline, 6 s by default; the rest goes to the dead-letter record) while gunicorn drains HTTP
connections, and ``worker_exit`` waits for it.  ``graceful_timeout`` (9 s) is when gunicorn's
master would SIGKILL the worker: above the flush deadline, below Cloud Run's 10 s.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = 1
threads = 32
# gthread, but a client that sends half a request cannot hold a thread (connector.gunicorn_worker)
worker_class = "connector.gunicorn_worker.BoundedThreadWorker"
keepalive = 0  # one request per connection: each one's reads are bounded from its first byte
timeout = 0  # the worker's main thread is not blocked by the client thread; never kill it
graceful_timeout = 9
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
    _start_shutdown_on(signal.SIGTERM)
    _start_shutdown_on(signal.SIGINT)


def _start_shutdown_on(signum: signal.Signals) -> None:
    """Chain gunicorn's handler for ``signum`` with the start of the connector's shutdown."""
    previous = signal.getsignal(signum)

    def handler(sig: int, frame: FrameType | None) -> None:
        from connector.api import begin_shutdown

        begin_shutdown()
        if callable(previous):
            previous(sig, frame)

    signal.signal(signum, handler)


def worker_exit(server: object, worker: object) -> None:
    from connector.api import finish_shutdown

    if not finish_shutdown(graceful_timeout):
        import logging

        logging.getLogger(__name__).error("connector shutdown did not finish in time")
