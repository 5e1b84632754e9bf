"""A gthread worker whose threads cannot be held by clients that send half a request.

gunicorn's gthread worker hands a connection to a thread, which then reads the request line,
headers and body with a blocking socket and no timeout: four clients that sent half a request
and waited held all four threads, and ``/health`` stopped answering (Cloud Run would then restart
a healthy connector).  This worker:

* bounds every read of a request with ``REQUEST_READ_TIMEOUT_SECONDS`` (the connection is closed
  when a read waits longer);
* parks a new connection that sends nothing for ``FIRST_BYTE_WAIT_SECONDS`` in gunicorn's poller
  (no thread), where it expires (gunicorn >= 24 only; older versions keep waiting in the thread);
* closes finished connections (the lingering close that lets the peer read the response) in the
  worker thread, with a short linger: gunicorn does it on its main loop with a 2 s linger per
  connection, so a burst of clients that never close stalled every other request.

``gunicorn_conf.py`` turns HTTP keep-alive off, so every request arrives on a new connection and
gets the read bound from its first byte.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.workers import gthread

__all__ = ["FIRST_BYTE_WAIT_SECONDS", "REQUEST_READ_TIMEOUT_SECONDS", "BoundedThreadWorker"]

REQUEST_READ_TIMEOUT_SECONDS = float(os.environ.get("REQUEST_READ_TIMEOUT_SECONDS", "5"))
"""Longest wait for the next bytes of a request being read (per socket read)."""

FIRST_BYTE_WAIT_SECONDS = 1.0
"""How long a thread waits for a new connection's first byte before parking it in the poller."""

CLOSE_LINGER_SECONDS = 0.5
"""How long a closing connection is drained so the peer gets the response, not a reset."""

log = logging.getLogger(__name__)

if hasattr(gthread, "DEFAULT_WORKER_DATA_TIMEOUT"):  # gunicorn >= 24 parks silent connections
    gthread.DEFAULT_WORKER_DATA_TIMEOUT = FIRST_BYTE_WAIT_SECONDS


def close_with_short_linger(sock: socket.socket, linger: float = CLOSE_LINGER_SECONDS) -> None:
    """Send FIN, drain what the peer still sends for up to ``linger`` seconds, close."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(linger)
        for _ in range(16):
            if not sock.recv(4096):
                break
    with contextlib.suppress(OSError):
        sock.close()


class _QuietTimeouts:
    """The request parser, with a read timeout reported as one INFO line, not a traceback.

    gunicorn logs an unexpected socket error with its traceback at ERROR: a client that stops
    sending is routine here, and must not let anyone flood the logs with tracebacks.
    """

    def __init__(self, parser: Any) -> None:
        self._parser = parser

    def __iter__(self) -> _QuietTimeouts:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._parser)
        except TimeoutError:
            log.info(
                "closed a connection whose request stalled for %.0fs",
                REQUEST_READ_TIMEOUT_SECONDS,
            )
            raise http_errors.NoMoreData(b"") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class BoundedThreadWorker(gthread.ThreadWorker):
    """``gthread`` with a read timeout on every request's socket and closes off the main loop."""

    def handle(self, conn: Any) -> Any:
        if not getattr(conn, "initialized", True):
            init = conn.init

            def bounded_init() -> None:
                init()  # makes the socket blocking (no timeout) and builds the parser on it
                conn.sock.settimeout(REQUEST_READ_TIMEOUT_SECONDS)  # bound it instead
                if conn.parser is not None:
                    conn.parser = _QuietTimeouts(conn.parser)

            conn.init = bounded_init
        result = super().handle(conn)
        if result is False:  # gunicorn closes it next, on its main loop: close it here instead
            close_with_short_linger(conn.sock)
        return result
