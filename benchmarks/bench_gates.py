"""What the quality gates and the tools they touched cost or gain.

* ``make lint``'s gates (ruff check, ruff format --check, mypy over the packages and tests/): wall
  time of each with warm caches, and mypy's with a cold cache (a fresh clone, CI);
* the local-runner patch (``pipeline/local_runner.py``): ``get_dofn_specs`` calls per second and
  per-call latency percentiles, stock Beam vs patched, on the pipeline's own DoFns;
* the replay tool (``replay/player.py``): frames per second and peak traced memory replaying a
  capture file into a publisher that acknowledges at once (the tool's own cost, not Pub/Sub's).

    python -m benchmarks.bench_gates [--frames 100000] [--no-lint]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile, report

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def bench_lint() -> None:
    for name, argv in [
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format --check", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy", [str(BIN / "mypy")]),
    ]:
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)  # warm the cache
        started = time.perf_counter()
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
        report(
            f"gate {name}",
            ms=(time.perf_counter() - started) * 1000,
            result="pass" if result.returncode == 0 else f"FAIL ({result.returncode})",
        )
    with tempfile.TemporaryDirectory() as cache:  # cold: nothing cached (the project's is kept)
        started = time.perf_counter()
        result = subprocess.run(
            [str(BIN / "mypy"), "--cache-dir", cache], cwd=ROOT, capture_output=True, check=False
        )
        report(
            "gate mypy (cold cache)",
            ms=(time.perf_counter() - started) * 1000,
            result="pass" if result.returncode == 0 else f"FAIL ({result.returncode})",
        )


def bench_dofn_specs(calls: int) -> None:
    from apache_beam.transforms import userstate

    from pipeline import local_runner
    from pipeline.transforms import (
        PerKeySemanticDedupFn,
        PerKeyTransportDedupFn,
        PublishFn,
        ShardedSemanticDedupFn,
        ShardedTransportDedupFn,
    )

    dofns = [
        ShardedTransportDedupFn(600, 64),
        ShardedSemanticDedupFn(3600),
        PerKeyTransportDedupFn(600),
        PerKeySemanticDedupFn(3600),
        PublishFn("bench"),
    ]

    def measure(label: str, calls: int) -> None:
        latencies = []
        started = time.perf_counter()
        for i in range(calls):
            t0 = time.perf_counter_ns()
            userstate.get_dofn_specs(dofns[i % len(dofns)])
            latencies.append((time.perf_counter_ns() - t0) / 1000)
        elapsed = time.perf_counter() - started
        report(
            f"get_dofn_specs {label}",
            calls=calls,
            calls_per_s=calls / elapsed,
            p50_us=percentile(latencies, 50),
            p99_us=percentile(latencies, 99),
        )

    measure("stock Beam", max(1, calls // 20))  # stock is slow: fewer calls, same percentiles
    with local_runner.patched():
        measure("patched (local runner)", calls)


def bench_replay(frames: int) -> None:
    from replay import player

    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "capture.jsonl"
        with capture.open("w", encoding="utf-8") as handle:
            for i in range(frames):
                attributes = {"frame_id": f"{i:032x}", "received_at": "2026-11-30T10:00:00.000Z"}
                data = json.dumps({"type": "next", "id": "1", "payload": {"data": {"n": i}}})
                handle.write(json.dumps({"data": data, "attributes": attributes}) + "\n")

        def publish(data: bytes, attributes: dict[str, str]) -> Future[Any]:
            future: Future[Any] = Future()
            future.set_result("id")
            return future

        started = time.perf_counter()
        with capture.open(encoding="utf-8") as handle:
            summary = player.replay(player.read_capture(handle), publish, speed=0)
        elapsed = time.perf_counter() - started
        # Memory, traced separately (tracing slows everything down): streamed as the tool does
        # now, and materialised first as it did before (every frame in a list).
        peaks = {}
        for how in ("streamed", "materialised"):
            tracemalloc.start()
            with capture.open(encoding="utf-8") as handle:
                items = player.read_capture(handle)
                player.replay(list(items) if how == "materialised" else items, publish, speed=0)
            peaks[how] = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        size_mb = capture.stat().st_size / 1e6
    report(
        "replay",
        frames=summary.published,
        frames_per_s=summary.published / elapsed,
        capture_mb=size_mb,
        peak_mb_streamed=peaks["streamed"],
        peak_mb_materialised=peaks["materialised"],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gates")
    parser.add_argument("--frames", type=int, default=100_000, help="replayed frames")
    parser.add_argument("--calls", type=int, default=30_000, help="get_dofn_specs calls")
    parser.add_argument("--no-lint", action="store_true", help="skip timing the lint gates")
    args = parser.parse_args(argv)
    if not args.no_lint:
        bench_lint()
    bench_dofn_specs(args.calls)
    bench_replay(args.frames)


if __name__ == "__main__":
    main()
