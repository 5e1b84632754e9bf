"""The whole pipeline on the local runner with the emulators: sustained frames/s and latency.

Starts the official Pub/Sub emulator (and, unless ``--no-bigquery``, the BigQuery emulator),
runs ``python -m pipeline`` on BundleBasedDirectRunner, then

1. **throughput**: publishes ``--frames`` distinct frames at once (a backlog) and measures how
   fast typed messages come out of the typed topics (target ≥ 150 frames/s);
2. **latency**: publishes at ``--rate`` frames/s for ``--seconds`` and measures ingress
   (``received_at``) → typed-topic arrival, p50/p99 (target p99 < 2 s at 50 frames/s).

    python -m benchmarks.bench_pipeline [--frames 3000] [--rate 50] [--seconds 30] [--no-bigquery]
        [--dedup-layout auto|per_key|sharded]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from google.cloud import pubsub_v1

from benchmarks.stats import percentile, report
from contract import catalog, ingress
from devstack.pipeline_process import start_pipeline, wait_until_flowing
from devstack.provision import ensure_subscription, provision_pubsub
from devstack.pubsub_emulator import PubSubEmulator
from testsupport import examples

PROJECT = "tote-bench"


def _frames(
    n: int, seed: int, tag: str, products: int | None = 200
) -> list[tuple[bytes, dict[str, str]]]:
    """Distinct pool totals / statuses / bets (no semantic duplicates), as a race day mixes them.

    ``products=None`` gives every pool total its own product: a backlog is processed out of
    order, and the ordering guard rightly withholds from the topics an older state processed
    after a newer one of the same product, which the throughput count would see as lost.
    """
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.7:
            amount = round(1000 + i * 1.37, 2)
            message = examples.example_message(
                "PoolTotalChanged",
                productId=f"00000000-0000-4000-{8000 + seed}-{i % (products or n):012d}",
                total={
                    "grossAmounts": [{"decimalAmount": amount, "currency": {"code": "GBP"}}],
                    "netAmounts": [
                        {"decimalAmount": round(amount * 0.8, 2), "currency": {"code": "GBP"}}
                    ],
                },
            )
            data = examples.frame("PoolTotalChanged", message)
        elif kind < 0.85:
            data = examples.frame(
                "SelectionStatusChanged",
                examples.example_message(
                    "SelectionStatusChanged", selectionId=f"sel-{tag}-{i}", status="ACTIVE"
                ),
            )
        else:
            data = examples.frame(
                "BetAccepted", examples.example_message("BetAccepted", betId=f"{tag}{i:030x}")
            )
        out.append(examples.ingress_message(data, frame_id=f"{tag}-{i}"))
    return out


class Collector:
    """Streaming-pulls every typed topic and records arrival latency per frame id."""

    def __init__(self, project: str, tag: str) -> None:
        self.subscriber = pubsub_v1.SubscriberClient()
        self.latencies: dict[str, float] = {}
        self.lock = threading.Lock()
        self.futures = []
        for topic in catalog.TOPICS:
            sub = ensure_subscription(project, topic.name, f"bench-{tag}-{topic.name}")
            self.futures.append(self.subscriber.subscribe(sub, self._on_message))

    def _on_message(self, message: pubsub_v1.subscriber.message.Message) -> None:
        now = datetime.now(UTC)
        sent = ingress.parse_timestamp(message.attributes["received_at"])
        with self.lock:
            self.latencies.setdefault(message.attributes["frame_id"], (now - sent).total_seconds())
        message.ack()

    def wait_for(self, ids: set[str], timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            with self.lock:
                if ids <= self.latencies.keys():
                    return time.monotonic() - start
            time.sleep(0.05)
        raise TimeoutError(f"{len(ids - self.latencies.keys())} of {len(ids)} frames never arrived")

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        self.subscriber.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-bigquery", action="store_true")
    parser.add_argument(
        "--dedup-layout", default="auto", help="the pipeline's --dedup_layout (auto = sharded here)"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
    emulator = PubSubEmulator.start(workdir / "pubsub.log")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    env = dict(os.environ)
    bq = None
    try:
        if not args.no_bigquery:
            from devstack.bigquery_emulator import BigQueryEmulator, local_bigquery_env
            from pipeline import tables

            bq = BigQueryEmulator.start(workdir / "bq.log", workdir / "bqdata")
            env.update(local_bigquery_env(bq, PROJECT, workdir))
            tables.ensure_all(tables.local_client(bq, PROJECT), PROJECT, catalog.DATASET)
        provision_pubsub(PROJECT)
        pipeline = start_pipeline(
            PROJECT,
            workdir / "pipeline.log",
            env,
            bigquery=bq is not None,
            extra=[f"--dedup_layout={args.dedup_layout}"],
        )
        wait_until_flowing(PROJECT, pipeline, timeout=120)
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, catalog.INGRESS_TOPIC)

        # 1. throughput from a backlog
        collector = Collector(PROJECT, "tput")
        frames = _frames(args.frames, 1, "tput", products=None)
        # mypy matches **dict[str, str] against publish's retry=/timeout= as well
        futures = [publisher.publish(topic, d, **a) for d, a in frames]  # type: ignore[arg-type]  # str attributes
        for f in futures:
            f.result(60)
        elapsed = collector.wait_for({a["frame_id"] for _, a in frames}, timeout=600)
        collector.close()
        report(
            "pipeline throughput (backlog)",
            frames=len(frames),
            seconds=elapsed,
            frames_per_s=len(frames) / elapsed,
            bigquery="on" if bq else "off",
        )

        # 2. latency at a steady rate
        collector = Collector(PROJECT, "lat")
        n = int(args.rate * args.seconds)
        frames = _frames(n, 2, "lat")
        interval = 1.0 / args.rate
        next_send = time.monotonic()
        for data, attrs in frames:
            attrs[ingress.ATTR_RECEIVED_AT] = ingress.format_timestamp(datetime.now(UTC))
            publisher.publish(topic, data, **attrs)  # type: ignore[arg-type]  # str attributes, as above
            next_send += interval
            time.sleep(max(0.0, next_send - time.monotonic()))
        collector.wait_for({a["frame_id"] for _, a in frames}, timeout=300)
        lat = [collector.latencies[a["frame_id"]] * 1000 for _, a in frames]
        collector.close()
        report(
            f"pipeline latency at {args.rate:g} frames/s",
            frames=n,
            p50_ms=percentile(lat, 50),
            p95_ms=percentile(lat, 95),
            p99_ms=percentile(lat, 99),
            max_ms=max(lat),
            bigquery="on" if bq else "off",
        )
        pipeline.stop()
    finally:
        if bq is not None:
            bq.stop()
        emulator.stop()


if __name__ == "__main__":
    main()
