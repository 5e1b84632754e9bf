"""Cost of hostile input in the pipeline's pure core: frames/s and latency by outcome.

A hostile frame must not cost much more than a good one (a flood of bad frames would otherwise
slow the good ones behind it).  The corpus is the fuzz suite's (``tests/fuzz/hostile.py``), plus
the worst cases: nesting just over the limit and ~1,000 deep, a frame at the size limit, one of
4.5 MB.  Each frame goes through ``process_frame`` and everything the Beam steps build from it
(raw row, typed row and message, or dead-letter row and message).

    python -m benchmarks.bench_hostile [--frames 20000]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from datetime import UTC, datetime

from benchmarks.stats import percentile, report
from contract import ingress
from pipeline import records
from pipeline.core import process_frame
from tests.fuzz import hostile
from testsupport import examples


def _worst_cases() -> dict[str, tuple[bytes, dict[str, str]]]:
    def deep(depth: int) -> bytes:
        text = hostile.frame_text("onPoolTotalChanged", {"productId": "p", "x": "@"})
        return text.replace('"@"', "[" * depth + "]" * depth).encode()

    def big(size: int) -> bytes:
        text = hostile.frame_text("onPoolTotalChanged", {"productId": "p", "pad": "@"})
        return text.replace('"@"', '"' + "x" * (size - len(text)) + '"').encode()

    cases = {
        "nesting 65": deep(65),
        "nesting 1000": deep(1000),
        "1 MB frame": big(ingress.MAX_FRAME_BYTES),
        "4.5 MB frame": big(4_500_000),
    }
    return {name: examples.ingress_message(data) for name, data in cases.items()}


def _build(frame: records.Frame) -> None:
    records.raw_row(frame)
    if frame.dead_letter is not None:
        records.dead_letter_message(records.frame_dead_letter_row(frame))
    for event in frame.events:
        records.typed_row(frame, event)
        records.typed_message(frame, event)


def run(messages: list[tuple[bytes, dict[str, str]]]) -> tuple[float, dict[str, list[float]]]:
    """Seconds for all, and per-frame latencies (µs) by outcome (stage, ``typed``, ``raw``)."""
    now = ingress.format_timestamp(datetime.now(UTC))
    by_outcome: dict[str, list[float]] = defaultdict(list)
    start = time.perf_counter()
    for data, attrs in messages:
        t0 = time.perf_counter()
        frame = process_frame(data, attrs, message_id="m", now=now)
        _build(frame)
        outcome = (
            frame.dead_letter.stage if frame.dead_letter else "typed" if frame.events else "raw"
        )
        by_outcome[outcome].append((time.perf_counter() - t0) * 1e6)
    return time.perf_counter() - start, by_outcome


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--distinct", type=int, default=400)
    args = parser.parse_args(argv)
    corpus = hostile.draw(hostile.messages(), args.distinct)
    messages = [corpus[i % len(corpus)] for i in range(args.frames)]
    run(messages[:1000])  # warm-up
    elapsed, by_outcome = run(messages)
    all_latencies = [v for values in by_outcome.values() for v in values]
    report(
        "hostile core (1 core)",
        frames=len(messages),
        frames_per_s=len(messages) / elapsed,
        p50_us=percentile(all_latencies, 50),
        p99_us=percentile(all_latencies, 99),
    )
    for outcome, values in sorted(by_outcome.items()):
        report(
            f"  {outcome}",
            n=len(values),
            p50_us=percentile(values, 50),
            p99_us=percentile(values, 99),
            max_us=max(values),
        )
    for name, (data, attrs) in _worst_cases().items():
        latencies = []
        for _ in range(5):
            t0 = time.perf_counter()
            frame = process_frame(data, attrs, now="2026-01-01T00:00:00.000Z")
            _build(frame)
            latencies.append((time.perf_counter() - t0) * 1e3)
        stage = frame.dead_letter.stage if frame.dead_letter else "typed"
        report(f"  worst case {name}", outcome=stage, p50_ms=percentile(latencies, 50))


if __name__ == "__main__":
    main()
