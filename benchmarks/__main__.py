"""``make bench``: every benchmark in turn, each printing its own throughput/latency line.

    python -m benchmarks [--quick] [--only core pipeline ...]

Each benchmark starts what it needs (emulators, services) on free loopback ports and stops it.
``--quick`` shortens the runs (smoke check of the harness, numbers less stable).
"""

from __future__ import annotations

import argparse
import importlib
import time

SUITES: dict[str, tuple[str, list[str], list[str]]] = {
    # name: (module, full-run args, quick-run args)
    "core": ("benchmarks.bench_pipeline_core", ["--frames", "200000"], ["--frames", "20000"]),
    "hostile": ("benchmarks.bench_hostile", ["--frames", "20000"], ["--frames", "3000"]),
    "dedup": (
        "benchmarks.bench_dedup_state",
        ["--entities", "64", "640", "6400", "--elements", "3000"],
        ["--entities", "64", "640", "--elements", "500"],
    ),
    "pipeline": (
        "benchmarks.bench_pipeline",
        ["--frames", "5000", "--rate", "50", "--seconds", "30"],
        ["--frames", "1000", "--rate", "50", "--seconds", "10"],
    ),
    "connector": (
        "benchmarks.bench_connector",
        ["--rate", "6000", "--frames", "60000"],
        ["--rate", "3000", "--frames", "10000"],
    ),
    "webapp": (
        "benchmarks.bench_webapp",
        ["--clients", "1000", "--rate", "100", "--duration", "20"],
        ["--clients", "200", "--rate", "100", "--duration", "5"],
    ),
    "webdata": (
        "benchmarks.bench_webdata",
        ["--races", "60", "--requests", "200", "--rate", "50", "--seconds", "10"],
        ["--races", "20", "--requests", "50", "--rate", "50", "--seconds", "4"],
    ),
    "recon": ("benchmarks.bench_recon", ["--pages", "400"], ["--pages", "40"]),
    "recon2": (  # query pages of which a quarter are partial responses with hostile values
        "benchmarks.bench_recon",
        ["--pages", "400", "--partial", "0.25"],
        ["--pages", "40", "--partial", "0.25"],
    ),
    "bigquery": ("benchmarks.bench_bigquery", [], ["--rows", "1000", "--starts", "1"]),
    "sweeps": (
        "benchmarks.bench_reconcile",
        ["--advance", "3000", "--sweeps", "5", "--converge-runs", "2", "--late-start", "600"],
        ["--advance", "1000", "--sweeps", "2", "--page-sizes", "50", "--converge-runs", "1"],
    ),
    "gates": (
        "benchmarks.bench_gates",
        ["--frames", "100000", "--calls", "30000"],
        ["--frames", "20000", "--calls", "5000", "--no-lint"],
    ),
    "e2e": (
        "benchmarks.bench_e2e",
        ["--rate", "15", "--seconds", "30", "--factors", "1", "10"],
        ["--rate", "15", "--seconds", "10", "--settle", "10", "--factors", "1", "10"],
    ),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=sorted(SUITES), default=list(SUITES))
    args = parser.parse_args(argv)
    for name in args.only:
        module, full, quick = SUITES[name]
        print(f"\n== {name} ({module}) ==", flush=True)
        started = time.monotonic()
        importlib.import_module(module).main(quick if args.quick else full)
        print(f"   ({time.monotonic() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
