"""Replay a recorded capture into the ingress topic: backfills and incident reproduction.

A capture is JSON lines, one received frame per line, as the connector writes it when
``CAPTURE_PATH`` is set::

    {"data": "<the frame text exactly as received>", "attributes": {"frame_id": "...", ...}}

Query-response pages of the connector's reconciliation sweeps are captured the same way (their
``data`` is the HTTP response body, their attributes those of
:func:`contract.ingress.query_page_attributes`, ``source`` = ``query``) and replayed alike: a
backfill brings the reference data and the reconciled state back with them.  ``--source
subscription`` or ``--source query`` replays only one kind.

The connector's dead-letter record (``DEAD_LETTER_PATH``: frames Pub/Sub refused or a stop
deadline left unpublished) replays the same way: its lines carry the bytes as ``data_base64``.

Frames are published with their original attributes, so the pipeline treats a replay like a
redelivery: within its transport-dedup window nothing is duplicated, and after it the analyst
views deduplicate by ``frame_id``.  ``--new-frame-ids`` gives every frame a fresh id (the old one
is kept as ``replay_of``) to force reprocessing, e.g. to reproduce an incident.

Timing follows the frames' ``received_at`` divided by ``--speed`` (``--speed 0``: as fast as
possible).  The capture is streamed, never held in memory (at most :data:`MAX_IN_FLIGHT`
publishes are awaited at once).  On a terminal a ``tqdm`` progress bar (rate, ETA) goes to
stderr; piped or logged, there is none (no carriage returns in logs).  A summary goes to stdout;
the exit code is non-zero when a line could not be read or a publish failed, and each such line
is named.

    python -m replay capture.jsonl --project P [--speed 10] [--topic tote-ingress] [--source query]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from tqdm import tqdm

from contract import catalog, ingress

__all__ = [
    "MAX_IN_FLIGHT",
    "CaptureError",
    "CapturedFrame",
    "Pacer",
    "ReplaySummary",
    "count_lines",
    "delays",
    "main",
    "progress_bar",
    "read_capture",
    "replay",
    "select_source",
    "with_new_frame_id",
]

MAX_IN_FLIGHT = 1000
"""Publishes awaited at once: what a replay holds in memory, whatever the capture's size."""


class CaptureError(ValueError):
    """A capture line that cannot be replayed; says which line and why."""


@dataclass(frozen=True)
class CapturedFrame:
    line: int
    data: bytes
    attributes: dict[str, str]

    @property
    def source(self) -> str:
        """``subscription`` (a websocket frame) or ``query`` (a sweep's response page)."""
        return self.attributes.get(ingress.ATTR_SOURCE) or ingress.SOURCE_SUBSCRIPTION

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
    if isinstance(obj, dict) and isinstance(obj.get("data_base64"), str):
        try:  # a dead-letter record line: the frame's bytes exactly as received
            data = base64.b64decode(obj["data_base64"], validate=True)
        except ValueError:
            raise CaptureError(f"line {line}: 'data_base64' is not base64") from None
    elif isinstance(obj, dict) and isinstance(obj.get("data"), str):
        data = obj["data"].encode("utf-8")
    else:
        raise CaptureError(f"line {line}: expected an object with a string 'data' or 'data_base64'")
    attrs = obj.get("attributes") or {}
    if not isinstance(attrs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()
    ):
        raise CaptureError(f"line {line}: 'attributes' must map strings to strings")
    return CapturedFrame(line, data, dict(attrs))


def read_capture(lines: Iterable[str]) -> Iterator[CapturedFrame | CaptureError]:
    """Every non-blank line as a frame or the error that line has (reading never stops early)."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield parse_line(text, number)
        except CaptureError as exc:
            yield exc


class Pacer:
    """Seconds to wait before each frame so the replay keeps the capture's pacing / ``speed``.

    One frame at a time, so a capture of any size streams.  Frames without a usable
    ``received_at`` (or ``speed`` 0) are sent without waiting; time never runs backwards.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._previous: datetime | None = None

    def delay(self, frame: CapturedFrame) -> float:
        current = frame.received_at
        wait = 0.0
        if self.speed > 0 and self._previous is not None and current is not None:
            wait = max(0.0, (current - self._previous).total_seconds() / self.speed)
        if current is not None:
            self._previous = current
        return wait


def delays(frames: Iterable[CapturedFrame], speed: float) -> Iterator[float]:
    """:class:`Pacer` over ``frames``: the wait before each one."""
    pacer = Pacer(speed)
    return (pacer.delay(frame) for frame in frames)


_Item = TypeVar("_Item", bound="CapturedFrame | CaptureError")


def select_source(items: Iterable[_Item], source: str) -> Iterator[_Item]:
    """The frames of one ``source`` (``all`` keeps every frame), streamed; unreadable lines are
    kept so the summary still names them (frames only in, frames only out)."""
    for item in items:
        if source == "all" or isinstance(item, CaptureError) or item.source == source:
            yield item


def with_new_frame_id(frame: CapturedFrame) -> CapturedFrame:
    attrs = dict(frame.attributes)
    if ingress.ATTR_FRAME_ID in attrs:
        attrs["replay_of"] = attrs[ingress.ATTR_FRAME_ID]
    attrs[ingress.ATTR_FRAME_ID] = ingress.new_id()
    return CapturedFrame(frame.line, frame.data, attrs)


@dataclass
class ReplaySummary:
    total: int = 0
    published: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
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
        if self.by_source:
            lines.append(
                "  published by source: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.by_source.items()))
            )
        lines += [f"  publish failed: {f}" for f in self.failed[:20]]
        lines += [f"  unreadable: {u}" for u in self.unreadable[:20]]
        return "\n".join(lines)


class Progress(Protocol):
    """What :func:`replay` reports progress to (a ``tqdm`` bar)."""

    def update(self, n: float | None = 1) -> bool | None: ...


def replay(
    items: Iterable[CapturedFrame | CaptureError],
    publish: Callable[[bytes, dict[str, str]], Future[Any]],
    *,
    speed: float = 1.0,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> ReplaySummary:
    """Publish ``items`` one by one, paced by :class:`Pacer`; unreadable lines are named.

    Streams: ``items`` is consumed lazily and at most ``max_in_flight`` publishes are awaited
    at once, so memory does not grow with the capture.  Waits for every publish before
    returning.
    """
    summary = ReplaySummary()
    pacer = Pacer(speed)
    pending: deque[tuple[CapturedFrame, Future[Any]]] = deque()
    start = time.monotonic()
    for item in items:
        summary.total += 1
        if isinstance(item, CaptureError):
            summary.unreadable.append(str(item))
        else:
            wait = pacer.delay(item)
            if wait:
                sleep(wait)
            pending.append((item, publish(item.data, item.attributes)))
            while len(pending) > max_in_flight:
                _settle(*pending.popleft(), summary)
        if progress is not None:
            progress.update(1)
    while pending:
        _settle(*pending.popleft(), summary)
    summary.seconds = time.monotonic() - start
    return summary


def _settle(frame: CapturedFrame, future: Future[Any], summary: ReplaySummary) -> None:
    try:
        future.result(timeout=60)
        summary.published += 1
        summary.by_source[frame.source] = summary.by_source.get(frame.source, 0) + 1
    except Exception as exc:  # noqa: BLE001 - each failure is named in the summary
        frame_id = frame.attributes.get(ingress.ATTR_FRAME_ID, "?")
        summary.failed.append(f"line {frame.line} (frame {frame_id}): {exc}")


def count_lines(path: Path) -> int:
    """Non-blank lines of ``path`` (one streaming pass), for the progress bar's total and ETA."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def progress_bar(total: int | None, *, quiet: bool, file: TextIO) -> tqdm[Any]:
    """A ``tqdm`` bar: ETA when ``total`` is known; off with ``quiet`` and on anything but a
    terminal (``disable=None``), so logs and pipes never get carriage returns."""
    return tqdm(
        total=total,
        unit="frame",
        file=file,
        disable=True if quiet else None,
        dynamic_ncols=True,
        mininterval=0.5,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m replay",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("capture", type=Path, help="JSON-lines capture file")
    parser.add_argument(
        "--project",
        default=os.environ.get("GOOGLE_CLOUD_PROJECT"),
        help="Pub/Sub project (default: $GOOGLE_CLOUD_PROJECT, now %(default)s)",
    )
    parser.add_argument("--topic", default=catalog.INGRESS_TOPIC, help="ingress topic")
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 0 = max speed")
    parser.add_argument("--new-frame-ids", action="store_true", help="force reprocessing")
    parser.add_argument(
        "--source",
        choices=("all", *ingress.SOURCES),
        default="all",
        help="replay only websocket frames (subscription) or sweep pages (query)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project (or GOOGLE_CLOUD_PROJECT) is required")
    if not args.capture.is_file():
        parser.error(f"no such capture file: {args.capture}")

    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(args.project, args.topic)

    def publish(data: bytes, attributes: dict[str, str]) -> Future[Any]:
        # mypy matches **dict[str, str] against publish's retry=/timeout= as well
        return publisher.publish(topic, data, **attributes)  # type: ignore[arg-type]  # all str

    show = not args.quiet and sys.stderr.isatty()
    with (
        args.capture.open(encoding="utf-8", errors="replace") as handle,
        progress_bar(
            count_lines(args.capture) if show else None, quiet=args.quiet, file=sys.stderr
        ) as bar,
    ):
        items = (
            with_new_frame_id(item)
            if args.new_frame_ids and isinstance(item, CapturedFrame)
            else item
            for item in read_capture(handle)
        )
        summary = replay(select_source(items, args.source), publish, speed=args.speed, progress=bar)
    print(summary.render())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
