"""Replay a recorded capture into the ingress topic: backfills and incident reproduction.

A capture is JSON lines, one received frame per line, as the connector writes it when
``CAPTURE_PATH`` is set::

    {"data": "<the frame text exactly as received>", "attributes": {"frame_id": "...", ...}}

Frames are published with their original attributes, so the pipeline treats a replay like a
redelivery: within its transport-dedup window nothing is duplicated, and after it the analyst
views deduplicate by ``frame_id``.  ``--new-frame-ids`` gives every frame a fresh id (the old one
is kept as ``replay_of``) to force reprocessing, e.g. to reproduce an incident.

Timing follows the frames' ``received_at`` divided by ``--speed`` (``--speed 0``: as fast as
possible).  A progress bar goes to stderr and a summary to stdout; the exit code is non-zero when
a line could not be read or a publish failed, and each such line is named.

    python -m replay capture.jsonl --project P [--speed 10] [--topic tote-ingress]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from contract import catalog, ingress

__all__ = [
    "CaptureError",
    "CapturedFrame",
    "ReplaySummary",
    "delays",
    "main",
    "progress_bar",
    "read_capture",
    "replay",
    "with_new_frame_id",
]


class CaptureError(ValueError):
    """A capture line that cannot be replayed; says which line and why."""


@dataclass(frozen=True)
class CapturedFrame:
    line: int
    data: bytes
    attributes: dict[str, str]

    @property
    def received_at(self) -> datetime | None:
        text = self.attributes.get(ingress.ATTR_RECEIVED_AT)
        try:
            return ingress.parse_timestamp(text) if text else None
        except ValueError:
            return None


def parse_line(text: str, line: int) -> CapturedFrame:
    """One capture line → a frame, or :class:`CaptureError` naming the problem."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaptureError(f"line {line}: not JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), str):
        raise CaptureError(f"line {line}: expected an object with a string 'data'")
    attrs = obj.get("attributes") or {}
    if not isinstance(attrs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()
    ):
        raise CaptureError(f"line {line}: 'attributes' must map strings to strings")
    return CapturedFrame(line, obj["data"].encode("utf-8"), dict(attrs))


def read_capture(lines: Iterable[str]) -> Iterator[CapturedFrame | CaptureError]:
    """Every non-blank line as a frame or the error that line has (reading never stops early)."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield parse_line(text, number)
        except CaptureError as exc:
            yield exc


def delays(frames: list[CapturedFrame], speed: float) -> list[float]:
    """Seconds to wait before each frame so the replay keeps the capture's pacing / ``speed``.

    Frames without a usable ``received_at`` (or ``speed`` 0) are sent without waiting; time never
    runs backwards.
    """
    out: list[float] = []
    previous: datetime | None = None
    for frame in frames:
        current = frame.received_at
        if speed <= 0 or previous is None or current is None:
            out.append(0.0)
        else:
            out.append(max(0.0, (current - previous).total_seconds() / speed))
        if current is not None:
            previous = current
    return out


def with_new_frame_id(frame: CapturedFrame) -> CapturedFrame:
    attrs = dict(frame.attributes)
    if ingress.ATTR_FRAME_ID in attrs:
        attrs["replay_of"] = attrs[ingress.ATTR_FRAME_ID]
    attrs[ingress.ATTR_FRAME_ID] = ingress.new_id()
    return CapturedFrame(frame.line, frame.data, attrs)


def progress_bar(done: int, total: int, elapsed: float, width: int = 30) -> str:
    """``[#######.......]  350/1000  35%  117.0 frames/s``."""
    fraction = done / total if total else 1.0
    filled = round(fraction * width)
    rate = done / elapsed if elapsed > 0 else 0.0
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total} "
        f"{fraction:4.0%} {rate:8.1f} frames/s"
    )


@dataclass
class ReplaySummary:
    total: int = 0
    published: int = 0
    failed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreadable

    def render(self) -> str:
        rate = self.published / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"replayed {self.published}/{self.total} frames in {self.seconds:.1f}s "
            f"({rate:.1f} frames/s); {len(self.failed)} publish failures; "
            f"{len(self.unreadable)} unreadable lines"
        ]
        lines += [f"  publish failed: {f}" for f in self.failed[:20]]
        lines += [f"  unreadable: {u}" for u in self.unreadable[:20]]
        return "\n".join(lines)


def replay(
    frames: list[CapturedFrame],
    publish,  # Callable[[bytes, dict[str, str]], Future]
    *,
    speed: float = 1.0,
    progress: TextIO | None = None,
    sleep=time.sleep,
) -> ReplaySummary:
    """Publish ``frames`` paced by :func:`delays`; waits for every publish before returning."""
    summary = ReplaySummary(total=len(frames))
    start = time.monotonic()
    pending = []
    for i, (frame, wait) in enumerate(zip(frames, delays(frames, speed), strict=True)):
        if wait:
            sleep(wait)
        pending.append((frame, publish(frame.data, frame.attributes)))
        if progress is not None and (i % 50 == 0 or i == len(frames) - 1):
            progress.write("\r" + progress_bar(i + 1, len(frames), time.monotonic() - start))
            progress.flush()
    for frame, future in pending:
        try:
            future.result(timeout=60)
            summary.published += 1
        except Exception as exc:  # noqa: BLE001 - each failure is named in the summary
            frame_id = frame.attributes.get(ingress.ATTR_FRAME_ID, "?")
            summary.failed.append(f"line {frame.line} (frame {frame_id}): {exc}")
    if progress is not None:
        progress.write("\n")
    summary.seconds = time.monotonic() - start
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay", description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path, help="JSON-lines capture file")
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"))
    parser.add_argument("--topic", default=catalog.INGRESS_TOPIC)
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 0 = max speed")
    parser.add_argument("--new-frame-ids", action="store_true", help="force reprocessing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project (or GOOGLE_CLOUD_PROJECT) is required")
    if not args.capture.is_file():
        parser.error(f"no such capture file: {args.capture}")

    frames: list[CapturedFrame] = []
    summary_errors: list[str] = []
    with args.capture.open(encoding="utf-8", errors="replace") as handle:
        for item in read_capture(handle):
            if isinstance(item, CaptureError):
                summary_errors.append(str(item))
            else:
                frames.append(with_new_frame_id(item) if args.new_frame_ids else item)

    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(args.project, args.topic)
    summary = replay(
        frames,
        lambda data, attrs: publisher.publish(topic, data, **attrs),
        speed=args.speed,
        progress=None if args.quiet else sys.stderr,
    )
    summary.unreadable = summary_errors
    summary.total += len(summary_errors)
    print(summary.render())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
