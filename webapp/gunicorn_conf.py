"""gunicorn settings for the web app: one process, one thread per open stream.

Why ``gthread`` (threads) and not gevent/eventlet: the Pub/Sub client is gRPC, whose C core
does not cooperate with gevent's monkey-patching; real threads are safe with it.  Each open SSE
stream holds one thread; a thread parked on a condition variable costs little memory (stack
pages touched only) and no CPU, and the bus's shared ring plus ``SSE_FLUSH_INTERVAL``
coalescing keep the per-event cost low.  Limits: ``threads = SSE_MAX_STREAMS + reserve`` (the
reserve keeps ``/health`` answering when the stream cap is reached), ~1-2k streams per process
is the comfortable range (see docs/webapp.md and ``benchmarks/bench_webapp.py``); scale out
with more instances, not workers.

Exactly one worker: each process holds its own subscriptions, replay buffer and ``/state``
(warmed up from the subscription window), so several workers would each pull every message and
hold the same history once more for nothing; event ids come from the data, so a reconnect may
land on any instance.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
from types import FrameType
from typing import Any

_max_streams = int(os.environ.get("SSE_MAX_STREAMS", "1200") or 1200)
_reserve = 16

bind = f"{os.environ.get('WEBAPP_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = 1
worker_class = "gthread"
threads = _max_streams + _reserve
worker_connections = threads + 64
timeout = 60
graceful_timeout = 15
keepalive = 5
# Cloud Logging JSON for gunicorn's own lines (webapp/logs.py): the access log records the path
# only (the query string may carry ?access_token=), and every line, the error log's request
# line of a malformed request included, is redacted.  access_log_format is not used.
logger_class = "webapp.logs.GunicornLogger"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("WEBAPP_LOG_LEVEL", "info")
# gunicorn 27's control socket lives at one fixed path per user: several instances on one
# machine (tests, the fan-out demo) would fight over it, and we do not use it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Raise the open-files limit: every stream is a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, threads * 2 + 256))
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, end the streams and unsubscribe *before* gunicorn waits for requests.

    SSE responses never finish by themselves, so without this gunicorn would wait the whole
    ``graceful_timeout`` and then kill them without a final flush.
    """
    threading.stack_size(512 * 1024)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        from webapp.app import shutdown_app

        threading.Thread(target=shutdown_app, args=(worker.wsgi,), daemon=True).start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


def worker_exit(server: Any, worker: Any) -> None:
    from webapp.app import shutdown_app

    shutdown_app(worker.wsgi)
