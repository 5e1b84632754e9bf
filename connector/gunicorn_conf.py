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


def worker_exit(server: object, worker: object) -> None:
    from connector.api import shutdown_services

    shutdown_services()
