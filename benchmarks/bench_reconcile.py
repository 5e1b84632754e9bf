"""Reconciliation: what a sweep of a full race day costs, and how fast the system converges
after a reconnect.

1. **Sweep cost** (simulator process + the connector's ``Sweeps``, pages collected in memory):
   the simulator advances a whole race day (every meeting of the day on the card and run), then
   ``--sweeps`` sweeps at each page size; reports pages, bytes, sweep duration p50/p95/max,
   per-request latency p50/p99, and the pipeline core's time for the pages (``process_frame``:
   parse, typed events and reference records; a page the pipeline cannot read yet is reported
   as dead-lettered).
2. **Reconnect → converged** (the whole local system at default settings): an outage drops the
   connection for 3 s while the day goes on (messages lost at the source); right after the
   reconnect the simulator's day pauses, so the truth holds still; measured from the reconnect
   (``connected_since``) to the sweep finishing, to every entity's latest state in BigQuery
   equalling the simulator's, and to the same on the SSE stream.  Target ≤ 10 s.

3. **Late start, before/after** (``--late-start N``): the connector starts after N messages of
   the day; counts the entities BigQuery shows wrongly once the day is done, sweeps off then on.

    python -m benchmarks.bench_reconcile [--advance 3000] [--sweeps 5] [--page-sizes 50 100]
        [--converge-runs 1] [--skip-converge] [--late-start 600]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile, report
from connector.forwarder import Frame
from connector.sweeps import SweepConfig, Sweeps, _default_client
from contract.queries import racing_day
from devstack.processes import ManagedProcess, free_port, wait_for_http

API_KEY = "bench-reconcile-key"


class _Collector:
    """Stands in for the forwarder: keeps every page offered."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def offer(self, frame: Frame) -> bool:
        self.frames.append(frame)
        return True

    def refuse(self, frame: Frame, reason: str) -> None:  # never full
        raise AssertionError(reason)


class _TimedClient:
    """Wraps the connector's query client to time each request."""

    def __init__(self, inner: Any, samples: list[float]) -> None:
        self.inner, self.samples = inner, samples

    async def post(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await self.inner.post(*args, **kwargs)
        finally:
            self.samples.append((time.perf_counter() - t0) * 1000)

    async def aclose(self) -> None:
        await self.inner.aclose()


def sweep_cost(advance: int, sweeps: int, page_sizes: list[int], workdir: Path) -> None:
    port, control = free_port(), free_port()
    day = racing_day(datetime.now(UTC)).isoformat()
    argv = [
        sys.executable, "-m", "simulator", "--port", str(port), "--control-port", str(control),
        "--api-key", API_KEY, "--advance", str(advance), "--day", day,
    ]  # fmt: skip
    sim = ManagedProcess("simulator", argv, log_path=workdir / "simulator.log").start()
    try:
        wait_for_http(f"http://127.0.0.1:{control}/health", timeout=60, alive=sim.alive)
        url = f"http://127.0.0.1:{control}/partner/gateway/graphql"
        for size in page_sizes:
            config = SweepConfig(url, f"Api-Key {API_KEY}", "bench", page_size=size)
            durations: list[float] = []
            requests: list[float] = []
            collector = _Collector()

            def timed(c: SweepConfig, r: list[float] = requests) -> Any:
                return _TimedClient(_default_client(c), r)

            forwarder: Any = collector  # offer/refuse: all a sweep needs of the forwarder
            runner = Sweeps(config, forwarder, client_factory=timed)
            last: Any = None
            for _ in range(sweeps):
                before = len(collector.frames)
                t0 = time.perf_counter()
                last = asyncio.run(runner.sweep("bench"))
                durations.append((time.perf_counter() - t0) * 1000)
                pages = collector.frames[before:]
            assert last is not None and not last.errors, last.errors if last else None
            core_ms, events, references, dead = _pipeline_time(pages)
            report(
                f"sweep of a full race day, page size {size}",
                pages=sum(last.pages.values()),
                products_pages=last.pages["products"],
                events_pages=last.pages["events"],
                bytes=last.bytes,
                sweep_p50_ms=percentile(durations, 50),
                sweep_p95_ms=percentile(durations, 95),
                sweep_max_ms=max(durations),
                request_p50_ms=percentile(requests, 50),
                request_p99_ms=percentile(requests, 99),
                pipeline_core_ms=core_ms,
                typed_events=events,
                reference_records=references,
                dead_lettered_pages=dead,
            )
    finally:
        sim.stop()


def _pipeline_time(pages: list[Frame]) -> tuple[float, int, int, int]:
    """The pipeline core's time for one sweep's pages (ms), typed events, reference records and
    dead-lettered pages."""
    try:
        from pipeline.core import process_frame
    except ImportError:  # the pipeline is not installed (connector-only environment)
        return float("nan"), 0, 0, 0
    t0 = time.perf_counter()
    frames = [process_frame(p.data, p.attributes) for p in pages]
    elapsed = (time.perf_counter() - t0) * 1000
    events = sum(len(f.events) for f in frames)
    references = sum(len(getattr(f, "reference", []) or []) for f in frames)
    dead = sum(1 for f in frames if f.dead_letter is not None)
    return elapsed, events, references, dead


def reconnect_to_converged(workdir: Path, runs: int, rate: float, window: float = 30.0) -> None:
    from devstack.system import LocalSystem, Ports
    from tests.e2e.convergence import (
        differences,
        expected_state,
        latest_from_bigquery,
        latest_from_messages,
    )
    from tests.e2e.harness import SseClient
    from webapp.events import EventKey

    system = LocalSystem(workdir, Ports.free(), project="tote-bench-reconcile", rate=rate, seed=5)
    system.start()
    try:
        # From the web app's first event (an origin id), so the stream holds every entity's
        # history; an id that is not one of the web app's would mean "live only".
        with_sse = SseClient(f"{system.webapp_url}/events", last_event_id=str(EventKey.origin(0)))
        client = system.bq.client(system.project)
        for run in range(runs):
            time.sleep(5)  # some of the day under way
            reconnects = system.connector_status()["reconnects"]
            lost_before = system.simulator_stats()["lost_while_unheard"]
            system.simulator_post("/faults/outage?seconds=3")
            while (status := system.connector_status())["reconnects"] <= reconnects or not status[
                "connected_since"
            ]:
                time.sleep(0.05)
            connected = datetime.fromisoformat(status["connected_since"].replace("Z", "+00:00"))
            # Hold the day still so "converged" has a fixed truth to reach (the stream is quiet
            # meanwhile; what was lost must come from the sweep).
            system.simulator_post(f"/faults/pause?seconds={window + 5:g}")
            swept = stored = streamed = sweep_duration = None
            deadline = time.monotonic() + window
            truth = None
            bq_checks: list[float] = []
            while time.monotonic() < deadline and (stored is None or streamed is None):
                status = system.connector_status()
                last = status["sweeps"]["last"]
                if swept is None and last and last["started_at"] >= status["connected_since"]:
                    finished = datetime.fromisoformat(last["finished_at"].replace("Z", "+00:00"))
                    swept = (finished - connected).total_seconds()
                    sweep_duration = last["duration_s"]
                    truth = expected_state(system.simulator_state())  # paused: fixed
                if truth is None:
                    time.sleep(0.02)
                    continue
                # The SSE check is cheap: it runs between the (slow) BigQuery checks too.
                if streamed is None and not differences(
                    truth, latest_from_messages(e.data for e in list(with_sse.events))
                ):
                    streamed = (datetime.now(UTC) - connected).total_seconds()
                if stored is None:
                    t0 = time.monotonic()
                    observed = latest_from_bigquery(client, system.project, system.dataset)
                    bq_checks.append(time.monotonic() - t0)
                    # Conservative: the time the check finished, not when it started.
                    if not differences(truth, observed):
                        stored = (datetime.now(UTC) - connected).total_seconds()
                time.sleep(0.05)
            report(
                f"reconnect → converged, run {run + 1} at {rate:g} msg/s",
                lost_at_source=system.simulator_stats()["lost_while_unheard"] - lost_before,
                sweep_done_s=swept if swept is not None else "never",
                sweep_duration_s=sweep_duration if sweep_duration is not None else "never",
                bigquery_converged_s=stored if stored is not None else f"not within {window:g}s",
                sse_converged_s=streamed if streamed is not None else f"not within {window:g}s",
                bigquery_check_s=percentile(bq_checks, 50),
                target_s=10,
            )
            system.simulator_post("/faults/pause?seconds=0")  # the day goes on
        with_sse.close()
    finally:
        system.stop()


def late_start_accuracy(workdir: Path, advance: int, sweeps_on: bool) -> None:
    """A late start (the day ``advance`` messages under way), then 300 more messages heard:
    how many entities does BigQuery show wrongly, with and without sweeps?"""
    from devstack.system import LocalSystem, Ports
    from tests.e2e.convergence import (
        DEFAULTS,
        differences,
        expected_state,
        latest_from_bigquery,
    )
    from tests.e2e.harness import captured_frames, raw_count, wait_for_simulator_done

    system = LocalSystem(
        workdir,
        Ports.free(),
        project=f"tote-bench-late-{'on' if sweeps_on else 'off'}",
        rate=60,
        seed=9,
        max_frames=300,
        simulator_args=("--advance", str(advance)),
        connector_env={} if sweeps_on else {"TOTE_GRAPHQL_URL": ""},
    )
    system.start()
    try:
        wait_for_simulator_done(system, timeout=300)
        deadline = time.monotonic() + 120
        while raw_count(system) < len(captured_frames(system)) and time.monotonic() < deadline:
            time.sleep(0.5)
        truth = expected_state(system.simulator_state())
        client = system.bq.client(system.project)
        wrong: list[str] = []
        settle = time.monotonic() + 30
        while time.monotonic() < settle:
            observed = latest_from_bigquery(client, system.project, system.dataset)
            wrong = differences(truth, observed, limit=1_000_000)
            if not wrong:
                break
            time.sleep(1)
        entities = sum(
            1
            for message_type, states in truth.items()
            for state in states.values()
            if state != DEFAULTS.get(message_type)
        )
        report(
            f"late start ({advance} messages missed), sweeps {'on' if sweeps_on else 'off'}",
            entities_with_state=entities,
            wrong_or_missing_in_bigquery=len(wrong),
            true=entities - len(wrong),
        )
    finally:
        system.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advance", type=int, default=3000, help="messages of the day run first")
    parser.add_argument("--sweeps", type=int, default=5, help="sweeps per page size")
    parser.add_argument("--page-sizes", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--converge-runs", type=int, default=1)
    parser.add_argument("--rate", type=float, default=15.0, help="simulator msg/s (converge)")
    parser.add_argument("--skip-converge", action="store_true")
    parser.add_argument(
        "--late-start",
        type=int,
        default=0,
        help="also run a late start that missed N messages, sweeps off then on",
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    sweep_cost(args.advance, args.sweeps, args.page_sizes, workdir)
    if not args.skip_converge:
        reconnect_to_converged(workdir / "system", args.converge_runs, args.rate)
    if args.late_start:
        for on in (False, True):
            late_start_accuracy(workdir / f"late-{on}", args.late_start, on)


if __name__ == "__main__":
    main()
