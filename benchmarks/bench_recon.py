"""Query pages/s of the pipeline's core on one core: a reconciliation sweep's pages → rows.

A whole-day sweep forwards every ``products`` and ``events`` page; per page the core parses the
JSON (Decimals), builds the subscription-shaped typed events and the reference records, and the
Beam steps turn them into typed rows and messages, reference rows and messages.  This measures
that work (``process_frame`` + the ``records`` builders) for pages of realistic size: products
with one leg and ~12 selections (a fifth of them resulted, with dividends), events with ~12
runners; the page size is the connector's ``first``.

``--partial F`` makes a share ``F`` of the pages partial responses with hostile values (a
GraphQL error on one node whose ``selling`` / ``result.results`` are null, a runner without
id, a cloth number ``"Infinity"``): the path that counts problems, withholds reference rows and
logs a warning per page.

    python -m benchmarks.bench_recon [--pages 400] [--page-size 50] [--partial 0.25]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.stats import percentile, report
from contract import ingress
from pipeline import records
from pipeline.core import process_frame
from testsupport import query_examples as q


def _uuid(rng: random.Random) -> str:
    return f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"


def _break(operation: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Make a page partial and hostile in place; returns its GraphQL error."""
    if operation == "products":
        nodes[1]["type"]["selling"] = None
    else:
        if nodes[1]["result"] is not None:
            nodes[1]["result"]["results"] = None
        nodes[1]["status"] = None
        runners = nodes[2]["eventCompetitors"]["nodes"]
        runners[0]["id"] = None
        runners[1]["details"]["clothNumber"] = "Infinity"
    return {"message": "resolver timed out", "path": [operation, "nodes", 1]}


def make_pages(
    n: int, size: int, seed: int = 11, partial: float = 0.0
) -> list[tuple[bytes, dict[str, str]]]:
    """``n`` pages alternating products / events, ``size`` nodes each (``partial``: the share
    of partial, hostile pages)."""
    rng = random.Random(seed)
    started = datetime.now(UTC)
    out = []
    for i in range(n):
        nodes = []
        for j in range(size):
            event_id = f"HORSERACING-VENUE{i % 9}-GB-2026-07-01-{1200 + j:04d}"
            runners = [f"{event_id}-RUNNER-{k}" for k in range(12)]
            if i % 2 == 0:
                sels = [
                    q.selection_node(_uuid(rng), f"RUNNER {k}", "AVAILABLE", runners[k])
                    for k in range(12)
                ]
                leg = q.leg_node(_uuid(rng), event_id, sels)
                resulted = j % 5 == 0
                nodes.append(
                    q.product_node(
                        _uuid(rng),
                        gross=round(rng.uniform(100, 90000), 2),
                        net=round(rng.uniform(80, 72000), 2),
                        legs=[leg],
                        result_status="FINAL" if resulted else None,
                        dividends=[q.dividend_line(legs=[(leg["id"], [(sels[0]["id"], "1")])])]
                        if resulted
                        else None,
                    )
                )
            else:
                nodes.append(
                    q.event_node(
                        event_id,
                        competitors=[
                            q.competitor_node(r, f"RUNNER {k}", cloth_number=k + 1)
                            for k, r in enumerate(runners)
                        ],
                    )
                )
        operation = "products" if i % 2 == 0 else "events"
        errors = [_break(operation, nodes)] if size >= 3 and rng.random() < partial else None
        body = json.dumps(q.page(operation, nodes, errors=errors)).encode()
        out.append(
            q.query_page_message(
                body, operation, page_number=i // 2 + 1, request_started_at=started
            )
        )
    return out


def run(pages: list[tuple[bytes, dict[str, str]]]) -> tuple[float, list[float], dict[str, int]]:
    counts = {"typed_rows": 0, "reference_rows": 0}
    latencies: list[float] = []
    ingested_at = ingress.format_timestamp(datetime.now(UTC))
    start = time.perf_counter()
    for data, attrs in pages:
        t0 = time.perf_counter()
        frame = process_frame(data, attrs, now=ingested_at)
        records.raw_row(frame)
        for event in frame.events:
            records.typed_row(frame, event)
            records.typed_message(frame, event)
        for record in frame.reference:
            records.reference_row(frame, record)
            records.reference_message(frame, record)
        latencies.append((time.perf_counter() - t0) * 1e3)
        counts["typed_rows"] += len(frame.events)
        counts["reference_rows"] += len(frame.reference)
    return time.perf_counter() - start, latencies, counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--partial", type=float, default=0.0, help="share of partial pages")
    args = parser.parse_args(argv)
    # The per-page warnings are built as in production, but not printed over the report.
    logging.getLogger("pipeline.query_pages").propagate = False
    logging.getLogger("pipeline.query_pages").addHandler(logging.NullHandler())
    pages = make_pages(args.pages, args.page_size, partial=args.partial)
    run(pages[:10])  # warm-up
    elapsed, latencies, counts = run(pages)
    kb = sum(len(d) for d, _ in pages) / len(pages) / 1024
    report(
        "query pages (1 core)" + (f", {args.partial:.0%} partial" if args.partial else ""),
        pages=len(pages),
        page_nodes=args.page_size,
        page_kb=kb,
        pages_per_s=len(pages) / elapsed,
        rows_per_s=(counts["typed_rows"] + counts["reference_rows"]) / elapsed,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        **counts,
    )


if __name__ == "__main__":
    main()
