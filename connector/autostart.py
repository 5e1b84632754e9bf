"""The thread that applies ``connector.window`` to the service (``AUTOSTART=true``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from connector.window import RacingWindow, WindowAction, in_window, window_action

__all__ = ["Autostart"]

log = logging.getLogger(__name__)


class _Service(Protocol):
    def start(self) -> bool: ...

    def stop(self, timeout: float | None = None) -> bool: ...


class Autostart:
    """Checks the window at once and every ``period`` seconds; starts/stops on its edges."""

    def __init__(
        self,
        service: _Service,
        window: RacingWindow,
        period: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.service = service
        self.window = window
        self.period = period
        self._now = now
        self._was_inside: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autostart", daemon=True)

    def start(self) -> None:
        self.check()  # at boot, synchronously: an instance inside the window connects now
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def check(self) -> WindowAction:
        inside = in_window(self._now(), self.window)
        action = window_action(self._was_inside, inside)
        self._was_inside = inside
        try:
            if action is WindowAction.START:
                log.info("inside the racing window: starting the connector")
                self.service.start()
            elif action is WindowAction.STOP:
                log.info("the racing window closed: stopping the connector")
                self.service.stop()
        except Exception:  # e.g. shutting down; the next edge tries again
            log.exception("autostart could not %s the connector", action)
        return action

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.check()
