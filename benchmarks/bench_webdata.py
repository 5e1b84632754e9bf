"""The web client's data contract under load: ``GET /state`` for a race day, resume elsewhere.

Two measurements:

1. ``/state`` for a full race day: one web app (no Pub/Sub) is fed a synthetic race day
   (``--races`` races, ``--pools`` pools each, ``--runners`` runners: reference data, statuses,
   totals, dividends, results) and answers ``--requests`` ``GET /state`` over real HTTP
   (werkzeug threaded server on loopback), unfiltered and filtered by race; latency p50/p99.
   Target: p99 < 100 ms.
2. Resume on another instance: the Pub/Sub emulator and two gunicorn instances A and B; a client
   follows A while ``--rate`` pool totals/s are published for ``--seconds`` s, is cut halfway,
   and resumes on B with its Last-Event-ID.  Reports events lost and repeated (target 0 and 0),
   the time from reconnect to the first event, and B's ``late`` counter.

    .venv/bin/python -m benchmarks.bench_webdata [--races 60 --requests 200 --rate 50 --seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
os.environ.setdefault("GCE_METADATA_IP", "127.0.0.9:1")

from benchmarks.stats import percentile, report
from devstack.processes import free_port
from devstack.provision import WEBAPP_TOPIC_RETENTION, ensure_topics
from devstack.pubsub_emulator import PubSubEmulator
from tests.webapp.messages import WEBAPP_TOPICS, pool_total, race_day
from tests.webapp.servers import webapp_server
from webapp.app import create_app, shutdown_app
from webapp.config import Config
from webapp.events import parse_message

PROJECT = "bench-webdata"


def _get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


def bench_state(races: int, pools: int, runners: int, requests: int) -> bool:
    from werkzeug.serving import make_server

    app = create_app(Config(pubsub_enabled=False, reorder_ms=0))
    runtime = app.extensions["tote"]
    messages = race_day(races=races, pools_per_race=pools, runners=runners)
    t0 = time.perf_counter()
    for message in messages:
        runtime.bus.publish(parse_message(*message))
    ingest = time.perf_counter() - t0
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ok = True
    try:
        base = f"http://127.0.0.1:{port}/state"
        _, body = _get(base)
        state = json.loads(body)
        race = next(
            i["data"]["id"]
            for i in state["items"]
            if i["stream"] == "reference" and i["data"]["kind"] == "event"
        )
        print(
            f"race day: {races} races x {pools} pools x {runners} runners = {len(messages)} "
            f"messages ingested in {ingest:.2f}s ({len(messages) / ingest:,.0f}/s); "
            f"/state holds {state['count']} entities, {len(body) / 1e6:.1f} MB"
        )
        changes = iter(range(10**9))

        def change() -> None:  # a newer pool total between requests: no cached answer
            n = next(changes)
            stamp = f"2026-11-27T00:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z"
            version = runtime.bus.state.version
            runtime.bus.publish(parse_message(*pool_total(f"{n}.5", received_at=stamp)))
            assert runtime.bus.state.version > version  # the state did change

        cases = (
            ("all, state unchanged (cached)", base, None),
            ("all, state changed before each", base, change),
            ("one race", f"{base}?event_id={race}", change),
        )
        for name, url, before in cases:
            _get(url)  # warm
            times = []
            for _ in range(requests):
                if before is not None:
                    before()
                times.append(_get(url)[0])
            p99 = percentile(times, 99)
            ok = ok and p99 < 100
            report(
                f"GET /state ({name})",
                requests=requests,
                p50_ms=percentile(times, 50),
                p99_ms=p99,
                max_ms=max(times),
            )
    finally:
        server.shutdown()
        shutdown_app(app)
    print(f"target (/state p99 < 100 ms): {'MET' if ok else 'NOT MET'}")
    return ok


def bench_resume(rate: float, seconds: float) -> bool:
    logs = Path(tempfile.mkdtemp(prefix="bench-webdata-"))
    emulator = PubSubEmulator.start(logs / "pubsub-emulator.log")
    try:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        prefix = "r-"
        ensure_topics(
            PROJECT, [prefix + t for t in WEBAPP_TOPICS], retention=WEBAPP_TOPIC_RETENTION
        )
        env = {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "WEBAPP_TOPIC_PREFIX": prefix,
            "PUBSUB_EMULATOR_HOST": emulator.host,
            "WEBAPP_LOG_LEVEL": "warning",
        }
        from google.cloud import pubsub_v1

        publisher = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.002, max_messages=50)
        )
        total = int(rate * seconds)

        def publish_all() -> None:
            start = time.monotonic()
            futures = []
            for i in range(total):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                now = time.time()
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
                data, attrs, topic = pool_total(
                    str(i), received_at=f"{stamp}.{int(now * 1000) % 1000:03d}Z"
                )
                futures.append(
                    publisher.publish(
                        publisher.topic_path(PROJECT, prefix + topic),
                        data,
                        **attrs,  # type: ignore[arg-type]  # str attributes (mypy: retry=)
                    )
                )
            for future in futures:
                future.result(timeout=30)

        with (
            webapp_server(logs, "webapp-a", **env) as a,
            webapp_server(logs, "webapp-b", **env) as b,
        ):
            stream = a.stream()
            sender = threading.Thread(target=publish_all)
            sender.start()
            first = stream.read_until(total // 2)
            stream.close()  # the cut
            cut = time.monotonic()
            resumed_stream = b.stream(headers={"Last-Event-ID": first[-1].id or ""})
            resumed_stream.read_until(1)
            to_first = (time.monotonic() - cut) * 1000
            sender.join()
            rest = resumed_stream.read_until(total - len(first) + 1, timeout=60)
            resumed_stream.close()
            late = b.status()["events"]["late"]
        gaps = [m for m in rest if m.event == "replay-gap"]
        amounts = [
            m.json()["data"]["gross_amounts"][0]["amount"]  # type: ignore[index]  # an event's JSON
            for m in first + rest
            if m.event == "pool-total"
        ]
        lost = total - len(set(amounts))
        repeated = len(amounts) - len(set(amounts))
        report(
            "resume on another instance",
            published=total,
            before_cut=len(first),
            after_resume=len(rest) - len(gaps),
            lost=lost,
            repeated=repeated,
            gap_notices=len(gaps),
            late_on_b=late,
            reconnect_to_first_event_ms=to_first,
        )
        ok = lost == 0 and repeated == 0 and not gaps
        print(f"target (0 lost, 0 repeated): {'MET' if ok else 'NOT MET'}")
        return ok
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=60)
    parser.add_argument("--pools", type=int, default=8)
    parser.add_argument("--runners", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--only", choices=("state", "resume"))
    args = parser.parse_args(argv)
    if args.only in (None, "state"):
        bench_state(args.races, args.pools, args.runners, args.requests)
    if args.only in (None, "resume"):
        bench_resume(args.rate, args.seconds)


if __name__ == "__main__":
    main()
