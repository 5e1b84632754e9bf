"""The connector's durable local record of frames Pub/Sub did not take.

A frame lands here when Pub/Sub refuses it for good (see ``connector.publish_errors``) or when a
stop/SIGTERM deadline passes before Pub/Sub acknowledged it.  One JSON object per line::

    {"recorded_at": "...", "reason": "...", "error": "...", "frame_id": "...",
     "attributes": {...}, "data_base64": "..."}

``data_base64`` is the frame's bytes exactly as received (frames need not be valid UTF-8), so a
line can be re-published unchanged (same ``frame_id``: the pipeline deduplicates).  Each write is
flushed and ``fsync``-ed before the frames are forgotten.  If the file cannot be written the
frames are logged at ERROR with their ids and bytes: never dropped silently.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

__all__ = ["DeadLetterRecord", "dead_letter_line", "read_dead_letters"]

log = logging.getLogger(__name__)


class _FrameLike(Protocol):
    data: bytes
    attributes: dict[str, str]


def dead_letter_line(
    frame: _FrameLike, reason: str, error: str, now: datetime | None = None
) -> dict[str, Any]:
    """The record of one frame (a JSON-ready dict)."""
    return {
        "recorded_at": (now or datetime.now(UTC)).isoformat(),
        "reason": reason,
        "error": error[:1000],
        "frame_id": frame.attributes.get("frame_id"),
        "attributes": dict(frame.attributes),
        "data_base64": base64.b64encode(frame.data).decode("ascii"),
    }


def read_dead_letters(path: str | Path) -> list[dict[str, Any]]:
    """Every record in ``path`` with ``data`` (bytes) decoded; ``[]`` when there is no file."""
    file = Path(path)
    if not file.exists():
        return []
    records = []
    for line in file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            record["data"] = base64.b64decode(record["data_base64"])
            records.append(record)
    return records


class DeadLetterRecord:
    """Appends frames to ``path`` (created with its directory on first use); thread-safe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.recorded = 0

    def write(self, frames: Sequence[_FrameLike], reason: str, error: str) -> int:
        """Record ``frames``; returns how many were written durably (the rest were logged)."""
        if not frames:
            return 0
        lines = "".join(json.dumps(dead_letter_line(f, reason, error)) + "\n" for f in frames)
        with self._lock:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write(lines)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                self._log_lost(frames, reason, f"{error}; record {self.path} unwritable: {exc}")
                return 0
            self.recorded += len(frames)
        log.error(
            "%d frame(s) written to the dead-letter record %s: %s",
            len(frames),
            self.path,
            reason,
            extra={
                "json_fields": {
                    "dead_letter_path": self.path,
                    "reason": reason,
                    "error": error[:300],
                    "frame_ids": _ids(frames),
                }
            },
        )
        return len(frames)

    @staticmethod
    def _log_lost(frames: Iterable[_FrameLike], reason: str, error: str) -> None:
        """Last resort: the frames themselves go to the log (Cloud Logging keeps them)."""
        for frame in frames:
            log.critical(
                "frame not published and not recorded: %s",
                reason,
                extra={"json_fields": dead_letter_line(frame, reason, error)},
            )


def _ids(frames: Iterable[_FrameLike]) -> list[str | None]:
    return [f.attributes.get("frame_id") for f in frames][:100]
