"""End-to-end latency of the whole local system: simulator frame → SSE event in a browser's place.

Starts everything ``make run`` starts (emulators, simulator, connector, pipeline on the local
runner, web app), connects an SSE client, and measures, for every typed event it receives, the
time from the connector receiving the frame (``received_at``, set on receipt from the simulator
over loopback) to the event arriving on the SSE stream.  Run at a realistic rate and at 10x.
Targets on the local runner: p50 < 500 ms, p99 < 2 s.

Two lines per rate: ``after start`` covers the first ``--settle`` seconds, while the local
pipeline also works through the connector's start-up sweep (a whole day's pages: thousands of
typed events and reference records, most of them dropped as unchanged by semantic dedup, but
each one an element on the direct runner); ``steady`` covers the ``--seconds`` after that.

    python -m benchmarks.bench_e2e [--rate 15] [--seconds 30] [--settle 45] [--factors 1 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.stats import percentile, report
from contract import ingress
from devstack.system import LocalSystem, Ports
from tests.e2e.harness import SseClient


def measure(rate: float, seconds: float, settle: float, workdir: Path) -> None:
    system = LocalSystem(workdir, Ports.free(), project="tote-bench-e2e", rate=rate, seed=3)
    system.start()
    try:
        client = SseClient(f"{system.webapp_url}/events")  # follows from now on
        started = time.time()
        time.sleep(settle + seconds)
        stats = system.simulator_stats()
        time.sleep(3)  # let the last frames through
        client.close()
        windows: dict[str, list[float]] = {"after start": [], "steady": []}
        for e in client.events:
            # Frames only: events derived from a sweep's query page (source=query) measure the
            # sweep, not the stream (benchmarks/bench_reconcile.py does).
            if not e.data.get("received_at") or e.data.get("source", "subscription") == "query":
                continue
            received = ingress.parse_timestamp(e.data["received_at"])
            latency = (e.arrived_at - received).total_seconds() * 1000
            window = "steady" if received.timestamp() >= started + settle else "after start"
            windows[window].append(latency)
        for name, latencies in windows.items():
            report(
                f"end to end at {rate:g} msg/s, {name}",
                seconds=settle if name == "after start" else seconds,
                frames_sent=stats["frames_sent_total"],
                sse_events=len(latencies),
                p50_ms=percentile(latencies, 50),
                p95_ms=percentile(latencies, 95),
                p99_ms=percentile(latencies, 99),
                max_ms=max(latencies) if latencies else float("nan"),
            )
    finally:
        system.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=15.0, help="realistic simulator msg/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="the steady window")
    parser.add_argument(
        "--settle", type=float, default=45.0, help="the window after start (start-up sweep)"
    )
    parser.add_argument("--factors", type=float, nargs="+", default=[1.0, 10.0])
    args = parser.parse_args(argv)
    for factor in args.factors:
        measure(
            args.rate * factor,
            args.seconds,
            args.settle,
            Path(tempfile.mkdtemp(prefix="bench-e2e-")),
        )


if __name__ == "__main__":
    main()
