"""What ``GET /status`` reports: the connection's state and counters, shared across threads.

The receive loop (asyncio thread) writes, Flask request threads read; one lock keeps each
snapshot consistent.  Publishing counters come from the forwarder and are merged in the API.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from contract.ingress import format_timestamp

__all__ = ["ConnectorStatus", "State"]


class State(StrEnum):
    IDLE = "idle"  # never started
    CONNECTING = "connecting"
    CONNECTED = "connected"  # acknowledged, subscriptions started
    BACKOFF = "backoff"  # waiting before the next reconnect
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"  # a fatal close or refused init: retrying cannot help


def _ts(when: datetime | None) -> str | None:
    return format_timestamp(when) if when else None


@dataclass
class ConnectorStatus:
    state: State = State.IDLE
    connected_since: datetime | None = None
    protocol: str | None = None
    connection_id: str | None = None
    frames: Counter[str] = field(default_factory=Counter)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: int = 0
    reconnects: int = 0
    last_reconnect_reason: str | None = None
    last_frame_at: datetime | None = None
    fatal: str | None = None
    malformed: int = 0
    last_message_at: dict[str, datetime] = field(default_factory=dict)
    watchdog_deadline_s: float | None = None
    keepalive_interval_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, value)

    def frame(self, subscription: str | None, now: datetime | None = None) -> None:
        """Count one forwarded frame (``unknown`` when its id maps to no subscription)."""
        now = now or datetime.now(UTC)
        with self._lock:
            self.frames[subscription or "unknown"] += 1
            self.last_frame_at = now
            self.last_message_at[subscription or "unknown"] = now

    def liveness(self, deadline: float, keepalive_interval: float | None) -> None:
        """The watchdog's current deadline and the keep-alive cadence it was derived from."""
        with self._lock:
            self.watchdog_deadline_s = round(deadline, 3)
            self.keepalive_interval_s = (
                round(keepalive_interval, 3) if keepalive_interval is not None else None
            )

    def subscription(self, field_name: str, state: str, detail: str = "") -> None:
        with self._lock:
            entry: dict[str, Any] = {"state": state}
            if detail:
                entry["detail"] = detail
            self.subscriptions[field_name] = entry

    def reconnecting(self, reason: str) -> None:
        with self._lock:
            self.reconnects += 1
            self.last_reconnect_reason = reason
            self.connected_since = None
            self.state = State.BACKOFF

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``/status``; each subscription carries ``last_message_at`` (silence)."""
        with self._lock:
            subscriptions = {k: dict(v) for k, v in self.subscriptions.items()}
            for name, entry in subscriptions.items():
                entry["last_message_at"] = _ts(self.last_message_at.get(name))
            return {
                "state": str(self.state),
                "connected_since": _ts(self.connected_since),
                "protocol": self.protocol,
                "connection_id": self.connection_id,
                "frames_received": dict(self.frames),
                "frames_received_total": sum(self.frames.values()),
                "malformed_frames": self.malformed,
                "subscriptions": subscriptions,
                "connections": self.connections,
                "reconnects": self.reconnects,
                "last_reconnect_reason": self.last_reconnect_reason,
                "last_frame_at": _ts(self.last_frame_at),
                "watchdog_deadline_s": self.watchdog_deadline_s,
                "keepalive_interval_s": self.keepalive_interval_s,
                "fatal": self.fatal,
            }
