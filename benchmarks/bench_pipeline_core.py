"""Frames/s of the pipeline's pure core on one core, for a realistic mix of Tote frames.

The core is everything the Beam steps do per frame except moving it: parse, classify, validate,
normalise, fingerprint, both dedup decisions, and building the raw row, typed row and typed
message (or the dead-letter row).  Target: ≥ 50,000 frames/s.

    python -m benchmarks.bench_pipeline_core [--frames 200000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from benchmarks.stats import percentile, report
from contract import catalog, ingress
from pipeline import records
from pipeline.core import process_frame
from pipeline.dedup import Decision, SemanticDeduper, TransportDeduper
from testsupport import examples

# Roughly a race day's shape: pool totals dominate, statuses and bets follow, a few bad frames.
MIX = {
    "PoolTotalChanged": 60,
    "SelectionStatusChanged": 8,
    "ProductStatusChanged": 5,
    "EventStatusChanged": 3,
    "CompetitorStatusChanged": 2,
    "EventResultChanged": 1,
    "PoolDividendChanged": 2,
    "BetAccepted": 8,
    "BetSettled": 4,
    "BetResulted": 4,
    "EventUpdated": 1,
}


def make_frames(n: int, seed: int = 7) -> list[tuple[bytes, dict[str, str]]]:
    rng = random.Random(seed)
    names = list(MIX)
    weights = list(MIX.values())
    products = [f"{i:08x}-0000-4000-8000-{rng.getrandbits(48):012x}" for i in range(200)]
    out = []
    now = datetime.now(UTC)
    for i in range(n):
        if i % 500 == 0:
            data = b'{"type":"next","id":"1","payload":{"data":{"onPoolTotalChanged":{"x":1}}}}'
        else:
            name = rng.choices(names, weights)[0]
            overrides = {}
            if name == "PoolTotalChanged":
                amount = round(rng.uniform(100, 90000), 2)
                overrides = {
                    "productId": rng.choice(products),
                    "total": {
                        "grossAmounts": [{"decimalAmount": amount, "currency": {"code": "GBP"}}],
                        "netAmounts": [
                            {"decimalAmount": round(amount * 0.8, 2), "currency": {"code": "GBP"}}
                        ],
                    },
                }
            message = examples.example_message(name, **overrides)
            data = examples.frame(
                name, message, protocol=rng.choice(["graphql-ws", "graphql-transport-ws"])
            )
        _, attrs = examples.ingress_message(b"", frame_id=f"{i:032x}", received_at=now)
        out.append((data, attrs))
    return out


def run_core(
    frames: list[tuple[bytes, dict[str, str]]],
) -> tuple[float, list[float], dict[str, int]]:
    transport = TransportDeduper(600 * 1_000_000)
    semantic = SemanticDeduper(3600 * 1_000_000)
    counts = {"typed": 0, "semantic_dup": 0, "dead": 0, "raw_only": 0}
    latencies: list[float] = []
    start = time.perf_counter()
    ingested_at = ""
    for i, (data, attrs) in enumerate(frames):
        t0 = time.perf_counter()
        if i % 100 == 0:  # as the Beam step does once per bundle
            ingested_at = ingress.format_timestamp(datetime.now(UTC))
        frame = process_frame(data, attrs, now=ingested_at)
        ts = i * 10_000
        if transport.seen(frame.frame_id, ts):
            continue
        records.raw_row(frame)
        if frame.dead_letter is not None:
            records.frame_dead_letter_row(frame)
            counts["dead"] += 1
        elif frame.event is None:
            counts["raw_only"] += 1
        elif semantic.decide(frame.event, ts) is Decision.DUPLICATE:
            counts["semantic_dup"] += 1
        else:
            records.typed_row(frame)
            records.typed_message(frame)
            counts["typed"] += 1
        latencies.append((time.perf_counter() - t0) * 1e6)
    return time.perf_counter() - start, latencies, counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    args = parser.parse_args(argv)
    frames = make_frames(args.frames)
    run_core(frames[:2000])  # warm-up
    elapsed, latencies, counts = run_core(frames)
    report(
        "pipeline core (1 core)",
        frames=len(frames),
        frames_per_s=len(frames) / elapsed,
        p50_us=percentile(latencies, 50),
        p99_us=percentile(latencies, 99),
        **counts,
        kinds=len(catalog.CATALOG),
    )


if __name__ == "__main__":
    main()
