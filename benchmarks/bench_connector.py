"""Connector throughput: simulator → connector → Pub/Sub emulator, all on loopback.

Starts its own Pub/Sub emulator, a simulator (``--rate``, ``--max-frames``) and the connector as
the local system runs it (``python -m connector``, gunicorn), then reports:

* frames/s forwarded (first frame received → last frame acknowledged by Pub/Sub),
* p50 / p99 receive→publish-ack latency (every acknowledged frame),
* peak RSS of the connector worker under load,
* loss: frames the simulator sent vs frames found on the ingress subscription (unique ids).

The emulator is warmed up first (30,000 untimed publishes): a cold JVM adds pauses of 100+ ms
that say nothing about the connector.

Targets: ≥ 5,000 frames/s, p99 < 50 ms, nothing lost, RSS < 200 MB.  Bounded in time
(``--timeout``).  Run: ``.venv/bin/python -m benchmarks.bench_connector [--rate 6000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
os.environ.setdefault("GCE_METADATA_IP", "127.0.0.9:1")

from google.cloud import pubsub_v1

from devstack.processes import ManagedProcess, free_port, wait_for_http
from devstack.provision import ensure_subscription, ensure_topics
from devstack.pubsub_emulator import PubSubEmulator

PROJECT = "bench-project"
TOPIC = "bench-ingress"


def get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (gunicorn master + worker), in MB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
        for p in pids:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (the gunicorn worker), in seconds."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for p in [pid, *(int(c) for c in children)]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return total


def worker_rss_mb(pid: int) -> float:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    return max((rss_mb(int(c)) for c in children), default=0.0)


def count_ingress(subscription: str, expected: int, timeout: float) -> set[str]:
    subscriber = pubsub_v1.SubscriberClient()
    ids: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(ids) < expected and time.monotonic() < deadline:
            try:
                resp = subscriber.pull(subscription=subscription, max_messages=1000, timeout=5)
            except Exception as exc:
                if "Deadline" in type(exc).__name__:
                    continue
                raise
            if resp.received_messages:
                ids.update(m.message.attributes["frame_id"] for m in resp.received_messages)
                subscriber.acknowledge(
                    subscription=subscription, ack_ids=[m.ack_id for m in resp.received_messages]
                )
    finally:
        subscriber.close()
    return ids


def warm_up(messages: int) -> None:
    """Publish ``messages`` to a throw-away topic so the emulator's JIT is warm before we time."""
    ensure_topics(PROJECT, ["bench-warm-up"])
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(PROJECT, "bench-warm-up")
    data = b'{"id":"1","type":"next","payload":{"data":{"onPoolTotalChanged":{}}}}'
    for chunk in range(0, messages, 1000):
        futures = [publisher.publish(topic, data, n=str(i)) for i in range(chunk, chunk + 1000)]
        for future in futures:
            future.result(timeout=60)
    publisher.stop()


def run(rate: float, frames: int, timeout: float, workdir: Path) -> dict[str, Any]:
    emulator = PubSubEmulator.start(workdir / "emulator.log")
    processes: list[ManagedProcess] = []
    try:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        warm_up(30_000)
        ensure_topics(PROJECT, [TOPIC])
        subscription = ensure_subscription(PROJECT, TOPIC, f"{TOPIC}-sub")
        ws_port, control_port, api_port = free_port(), free_port(), free_port()
        sim = ManagedProcess(
            "simulator",
            [sys.executable, "-m", "simulator", "--port", str(ws_port),
             "--control-port", str(control_port), "--rate", str(rate),
             "--max-frames", str(frames), "--api-key", "bench-key"],
            log_path=workdir / "simulator.log",
        ).start()  # fmt: skip
        processes.append(sim)
        env = {
            **os.environ,
            "PORT": str(api_port),
            "HOST": "127.0.0.1",
            "TOTE_SUBSCRIPTIONS_URL": f"ws://127.0.0.1:{ws_port}/partner/connections/graphql/",
            "TOTE_API_KEY": "bench-key",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "INGRESS_TOPIC": TOPIC,
            "AUTOSTART": "true",
            "LOG_LEVEL": "WARNING",
        }
        connector = ManagedProcess(
            "connector",
            [sys.executable, "-m", "connector"],
            log_path=workdir / "connector.log",
            env=env,
        ).start()
        processes.append(connector)
        sim_url = f"http://127.0.0.1:{control_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{sim_url}/health", timeout=30, alive=sim.alive)
        wait_for_http(f"{api_url}/health", timeout=60, alive=connector.alive)

        peak_rss = 0.0
        sampling = True

        def sample() -> None:
            nonlocal peak_rss
            while sampling:
                assert connector.pid is not None
                peak_rss = max(peak_rss, worker_rss_mb(connector.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert connector.pid is not None and sim.pid is not None
        cpu_before = cpu_seconds(connector.pid)
        sim_cpu_before = cpu_seconds(sim.pid)
        deadline = time.monotonic() + timeout
        first = last = None
        sent = 0
        while time.monotonic() < deadline:
            status = get(f"{api_url}/status?latency_window=1")
            stats = get(f"{sim_url}/stats")
            now = time.monotonic()
            if first is None and status["frames_received_total"] > 0:
                first = now
            sent = stats["frames_sent_total"]
            if stats["done"] and status["published"] >= sent:
                last = now
                break
            time.sleep(0.05)
        sampling = False
        sampler.join()
        cpu = cpu_seconds(connector.pid) - cpu_before
        sim_cpu = cpu_seconds(sim.pid) - sim_cpu_before
        status = get(f"{api_url}/status?latency_window=1000000")
        delivered = count_ingress(subscription, sent, timeout=120)
        elapsed = (last or time.monotonic()) - (first or time.monotonic())
        return {
            "rate_requested": rate,
            "frames_sent": sent,
            "frames_received": status["frames_received_total"],
            "published": status["published"],
            "publish_failures": status["publish_failures"],
            "refused": status["refused"],
            "on_ingress_subscription": len(delivered),
            "lost": sent - len(delivered),
            "elapsed_s": round(elapsed, 2),
            "frames_per_s": round(status["published"] / elapsed, 1) if elapsed > 0 else 0.0,
            "latency_ms": status["publish_latency_ms"],
            "peak_worker_rss_mb": round(peak_rss, 1),
            "connector_cpu_us_per_frame": round(cpu / max(1, status["published"]) * 1e6, 1),
            "simulator_cpu_us_per_frame": round(sim_cpu / max(1, sent) * 1e6, 1),
            "load_average_1m": os.getloadavg()[0],
            "completed": last is not None,
        }
    finally:
        for proc in reversed(processes):
            proc.stop()
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=6000.0, help="simulator messages/s")
    parser.add_argument("--frames", type=int, default=60_000, help="frames to send")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after (s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-connector-") as tmp:
        result = run(args.rate, args.frames, args.timeout, Path(tmp))
    lat = result["latency_ms"]
    print(
        f"connector: {result['frames_per_s']:.0f} frames/s forwarded "
        f"({result['published']} frames in {result['elapsed_s']} s, requested {args.rate:.0f}/s); "
        f"receive→publish-ack p50 {lat['p50']} ms, p99 {lat['p99']} ms; "
        f"lost {result['lost']}, refused {result['refused']}; "
        f"peak worker RSS {result['peak_worker_rss_mb']} MB; "
        f"connector CPU {result['connector_cpu_us_per_frame']} µs/frame "
        f"(machine load {result['load_average_1m']:.1f} on {os.cpu_count()} cores)"
    )
    print(json.dumps(result))
    ok = (
        result["completed"]
        and result["lost"] == 0
        and result["frames_per_s"] >= 5000
        and lat["p99"] < 50
        and result["peak_worker_rss_mb"] < 200
    )
    print(
        "targets (>= 5000 frames/s, p99 < 50 ms, nothing lost, RSS < 200 MB):",
        "met" if ok else "NOT met",
    )


if __name__ == "__main__":
    main()
