"""The local BigQuery emulator: start time, memory, insert throughput, view query latency.

Measures what the local system pays for BigQuery: how long bqemulator takes to become ready,
its RSS idle and after loading rows, rows/s through the plain ``insertAll`` client and through
Beam's ``WriteToBigQuery(STREAMING_INSERTS)`` path on the BundleBasedDirectRunner (the path the
local pipeline uses), and how long the analyst views take to query once the rows are in.

    python -m benchmarks.bench_bigquery [--rows 5000] [--starts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile, report
from contract import catalog, ingress
from pipeline import tables
from pipeline.normalize import normalize
from testsupport.examples import example_message

PROJECT = "bench-project"


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the emulator's process group), in MB."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if os.getpgid(int(entry.name)) != pid:
                continue
        except (OSError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def pool_rows(n: int) -> list[dict[str, Any]]:
    """``n`` pool_total_changed rows as the pipeline builds them, over 200 products."""
    spec = catalog.by_name("PoolTotalChanged")
    assert spec is not None
    base = datetime.now(UTC) - timedelta(hours=1)
    rows = []
    for i in range(n):
        msg = example_message(
            "PoolTotalChanged",
            productId=f"{i % 200:08d}-0000-4000-8000-000000000000",
            total={
                "grossAmounts": [{"decimalAmount": 1000 + i * 0.1, "currency": {"code": "GBP"}}],
                "netAmounts": [{"decimalAmount": 800 + i * 0.1, "currency": {"code": "GBP"}}],
            },
        )
        when = ingress.format_timestamp(base + timedelta(milliseconds=i))
        rows.append(
            {
                "frame_id": uuid.uuid4().hex,
                "received_at": when,
                "message_type": "PoolTotalChanged",
                "connection_id": "bench",
                "ingested_at": when,
                "payload": json.dumps(msg),
                **normalize(spec, msg),
            }
        )
    return rows


def beam_insert(table: str, rows: list[dict[str, Any]]) -> float:
    """Seconds for a batch Beam pipeline to stream ``rows`` into ``table``."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    started = time.monotonic()
    pipeline = beam.Pipeline(
        options=PipelineOptions([], runner="BundleBasedDirectRunner", project=PROJECT)
    )
    _ = (
        pipeline
        | beam.Create(rows)
        | beam.io.WriteToBigQuery(
            table=table.replace(".", ":", 1),
            schema={"fields": catalog.table_schema("pool_total_changed")},
            method=beam.io.WriteToBigQuery.Method.STREAMING_INSERTS,
            create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
            write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
            insert_retry_strategy="RETRY_ON_TRANSIENT_ERROR",
        )
    )
    pipeline.run().wait_until_finish()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
    os.environ.setdefault("GCE_METADATA_IP", "127.0.0.9:1")
    from devstack.bigquery_emulator import BigQueryEmulator, local_bigquery_env

    workdir = Path(tempfile.mkdtemp(prefix="bench-bigquery-"))
    starts = []
    for i in range(args.starts):
        t0 = time.monotonic()
        emulator = BigQueryEmulator.start(workdir / f"start{i}.log", workdir / f"start{i}")
        starts.append(time.monotonic() - t0)
        emulator.stop()
    report("bqemulator start (s)", p50=percentile(starts, 50), max=max(starts), n=len(starts))

    emulator = BigQueryEmulator.start(workdir / "bq.log", workdir / "data", project=PROJECT)
    try:
        pid = emulator.process.pid
        assert pid is not None
        report("bqemulator RSS idle", mb=rss_mb(pid))
        os.environ.update(local_bigquery_env(emulator, PROJECT, workdir))
        client = emulator.client(PROJECT)
        tables.ensure_all(client, PROJECT, "bench")
        table = f"{PROJECT}.bench.pool_total_changed"
        rows = pool_rows(args.rows)

        t0 = time.monotonic()
        for i in range(0, len(rows), 500):
            errors = client.insert_rows_json(table, rows[i : i + 500])
            assert not errors, errors[:3]
        seconds = time.monotonic() - t0
        report("insertAll client, batches of 500", rows=len(rows), rows_per_s=len(rows) / seconds)

        seconds = beam_insert(table, rows)
        report(
            "Beam WriteToBigQuery STREAMING_INSERTS (BundleBasedDirectRunner, incl. start-up)",
            rows=len(rows),
            seconds=seconds,
            rows_per_s=len(rows) / seconds,
        )
        (count,) = client.query(f"SELECT COUNT(*) AS n FROM `{table}`").result()
        assert count.n == 2 * len(rows), count.n
        report("bqemulator RSS after load", rows=count.n, mb=rss_mb(pid))

        for view in ("latest_pool_totals", "pool_total_changed_dedup"):
            latencies = []
            for _ in range(5):
                t0 = time.monotonic()
                list(client.query(f"SELECT COUNT(*) AS n FROM `{PROJECT}.bench.{view}`").result())
                latencies.append((time.monotonic() - t0) * 1000)
            report(f"query {view} over {count.n} rows (ms)", p50=percentile(latencies, 50))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
