"""The connector's durable local record of frames Pub/Sub did not take.

A frame lands here when Pub/Sub refuses it for good (see ``connector.publish_errors``) or when a
stop/SIGTERM deadline passes before Pub/Sub acknowledged it.  One JSON object per line::

    {"recorded_at": "...", "reason": "...", "error": "...", "frame_id": "...",
     "attributes": {...}, "data_base64": "..."}

``data_base64`` is the frame's bytes exactly as received (frames need not be valid UTF-8), so a
line can be re-published unchanged (same ``frame_id``: the pipeline deduplicates;
``python -m replay`` reads this format).  Each write is flushed and ``fsync``-ed before the
frames are forgotten.  If the file cannot be written the frames are logged at CRITICAL with
their ids and bytes: never dropped silently.

Cloud Run's filesystem lives in the instance's memory and dies with it, so there
``DEAD_LETTER_LOG_FRAMES`` (``log_frames``) also writes each record line as a structured log
entry (``dead_letter_frame``): Cloud Logging keeps it after the instance is gone.  Entries are
capped below Cloud Logging's 256 KB; a larger frame's entry says so and keeps only its id.
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

LOG_ENTRY_MAX_DATA = 180_000
"""Base64 characters of a frame a log entry may carry (Cloud Logging's entry limit is 256 KB)."""

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

    def __init__(self, path: str, log_frames: bool = False) -> None:
        self.path = path
        self.log_frames = log_frames
        self._lock = threading.Lock()
        self.recorded = 0

    def write(self, frames: Sequence[_FrameLike], reason: str, error: str) -> int:
        """Record ``frames``; returns how many were written durably (the rest were logged)."""
        if not frames:
            return 0
        records = [dead_letter_line(f, reason, error) for f in frames]
        lines = "".join(json.dumps(r) + "\n" for r in records)
        if self.log_frames:
            self._log_records(records)
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
    def _log_records(records: Iterable[dict[str, Any]]) -> None:
        """One WARNING entry per frame (the durable copy where the file is not durable)."""
        for record in records:
            if len(record["data_base64"]) > LOG_ENTRY_MAX_DATA:
                record = {
                    **record,
                    "data_base64": None,
                    "data_omitted": "too large for a log entry",
                }
            log.warning(
                "dead_letter_frame %s",
                record["frame_id"],
                extra={"json_fields": {"dead_letter_frame": record}},
            )

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
