"""Start and stop local services as process groups, and wait until they are ready.

Each service runs in its own session (process group) so stopping it also stops whatever it
spawned (``gcloud`` wrappers leave Java running otherwise); stop sends SIGTERM to the group,
waits, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["ManagedProcess", "ServiceError", "free_port", "port_is_free", "wait_for_http"]


class ServiceError(RuntimeError):
    """A local service could not be started; the message says why and where its log is."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host:port`` can be bound (nothing else listens there)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_http(
    url: str,
    *,
    timeout: float = 30.0,
    accept: Callable[[int, bytes], bool] | None = None,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``url`` until it answers (and ``accept(status, body)`` holds) or ``timeout`` passes.

    ``alive`` lets the caller stop waiting early when the process behind the URL has died.
    """
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise ServiceError(f"process behind {url} exited while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                body = resp.read()
                if accept is None or accept(resp.status, body):
                    return
                last_error = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            if accept is not None and accept(exc.code, b""):
                return
            last_error = f"HTTP {exc.code}"
        except (OSError, urllib.error.URLError) as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise ServiceError(f"{url} not ready after {timeout:.0f}s ({last_error})")


class ManagedProcess:
    """One local service: a command in its own process group with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it from here
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def wait_ready(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        accept: Callable[[int, bytes], bool] | None = None,
    ) -> ManagedProcess:
        """Poll ``url`` until this service answers; if it never does (or exits), stop it and
        raise a :class:`ServiceError` that names its log and quotes the log's last lines."""
        try:
            wait_for_http(url, timeout=timeout, accept=accept, alive=self.alive)
        except ServiceError as exc:
            self.stop()
            raise ServiceError(
                f"{self.name}: {exc}; log: {self.log_path}\n{self.log_tail()}"
            ) from exc
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the group, wait up to ``timeout``, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(5)
        # Children that ignored SIGTERM (or outlived the leader) die with the group.
        self.signal(signal.SIGKILL)
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
