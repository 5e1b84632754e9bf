"""Web app fan-out benchmark: many concurrent SSE clients on one gunicorn process.

Starts the official Pub/Sub emulator and one web app instance (gunicorn, gthread), opens
``--clients`` SSE connections from an asyncio client in this process, then publishes
PoolTotalChanged messages to the typed topic at ``--rate`` per second for ``--duration``
seconds.  Each message carries its publish time (``payload.bench_sent_ns``), so the latency
reported is end to end: Pub/Sub publish -> emulator -> streaming pull -> bus -> every client.

    .venv/bin/python -m benchmarks.bench_webapp                  # 1000 clients, 100 events/s
    .venv/bin/python -m benchmarks.bench_webapp --clients 200 --duration 5

Loopback only; everything it starts runs in its own process group and is stopped at the end.
Prints clients held, deliveries/s, p50/p99/max latency, drops and the server's CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
os.environ.setdefault("GCE_METADATA_IP", "127.0.0.9:1")

from contract import catalog
from devstack.processes import ManagedProcess, free_port, wait_for_http
from devstack.provision import ensure_topics
from devstack.pubsub_emulator import PubSubEmulator
from webapp.events import REFERENCE_TOPIC

if TYPE_CHECKING:
    from google.cloud import pubsub_v1

PROJECT = "bench-webapp"
_SENT = re.compile(rb'"bench_sent_ns":(\d+)')
ROOT = Path(__file__).resolve().parent.parent


class SSEClient(asyncio.Protocol):
    """A minimal SSE reader: counts events and records their delivery latency."""

    def __init__(self, request: bytes, latencies: list[float], state: dict[str, bool]) -> None:
        self.request = request
        self.latencies = latencies
        self.state = state
        self.buffer = b""
        self.events = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)  # a TCP connection's transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        self.buffer += data
        end = self.buffer.rfind(b"\n\n")
        if end < 0:
            return
        complete, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
        sent = _SENT.findall(complete)
        self.events += len(sent)
        if self.state["measure"]:
            self.latencies.extend((now - int(s)) / 1e6 for s in sent)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


def _typed_topic(name: str) -> str:
    """The typed topic of catalog message type ``name`` (the benchmark cannot run without it)."""
    message_type = catalog.by_name(name)
    if message_type is None or message_type.topic is None:
        raise LookupError(f"{name} has no typed topic in contract/catalog.py")
    return message_type.topic


_TOPIC = _typed_topic("PoolTotalChanged")


def _message(seq: int) -> bytes:
    product = f"{seq % 40:08x}-0000-4000-8000-000000000000"
    amount = f"{1000 + seq * 1.5:.2f}"
    now = time.time()  # received_at orders the events (their ids): as the connector stamps it
    received_at = (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    )
    return json.dumps(
        {
            "message_type": "PoolTotalChanged",
            "frame_id": f"{seq:032x}",
            "received_at": received_at,
            "key": f"PoolTotalChanged|{product}",
            "data": {
                "product_id": product,
                "is_finalized": False,
                "gross_amounts": [{"amount": amount, "currency": "GBP"}],
                "net_amounts": [{"amount": amount, "currency": "GBP"}],
            },
            "payload": {
                "productId": product.upper(),
                "isFinalized": False,
                "total": {
                    "grossAmounts": [{"decimalAmount": float(amount), "currency": {"code": "GBP"}}],
                    "netAmounts": [{"decimalAmount": float(amount), "currency": {"code": "GBP"}}],
                },
                "bench_sent_ns": time.time_ns(),
            },
        },
        separators=(",", ":"),
    ).encode()


def _publish(rate: float, seconds: float, stop: threading.Event, counter: list[int]) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.002, max_messages=50)
    )
    topic = publisher.topic_path(PROJECT, _TOPIC)
    start = time.monotonic()
    seq = 0
    futures = []
    while not stop.is_set() and time.monotonic() - start < seconds:
        due = start + seq / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        seq += 1
        futures.append(publisher.publish(topic, _message(seq), message_type="PoolTotalChanged"))
    for f in futures:
        f.result(timeout=30)
    counter.append(seq)
    publisher.stop()


def _baseline_subscriber(
    latencies: list[float],
    state: dict[str, bool],
    arrivals: list[tuple[bytes, dict[str, str], float, float]] | None = None,
) -> pubsub_v1.subscriber.futures.StreamingPullFuture:
    """A plain streaming-pull subscriber on its own subscription: Pub/Sub's share of latency.

    With ``arrivals``, also records (data, attributes, publish time, arrival) of every message
    for the reorder-rule replay (``benchmarks/reorder_replay.py``).
    """
    from google.cloud import pubsub_v1

    from devstack.provision import ensure_subscription

    topic = _TOPIC
    path = ensure_subscription(PROJECT, topic, f"bench-baseline-{os.getpid()}")

    def on_message(message: pubsub_v1.subscriber.message.Message) -> None:
        now = time.time_ns()
        if arrivals is not None:
            published = message.publish_time.timestamp()
            arrivals.append((message.data, dict(message.attributes), published, now / 1e9))
        found = _SENT.search(message.data)
        if found and state["measure"]:
            latencies.append((now - int(found.group(1))) / 1e6)
        message.ack()

    return pubsub_v1.SubscriberClient().subscribe(path, on_message)


def _status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as resp:
        return json.load(resp)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _worker_pid(master: int) -> int:
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        return int(child)
    return master


async def _run_clients(args: argparse.Namespace, port: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.clients * 2 + 256)), hard))
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    state = {"measure": False}
    request = f"GET /events?types=pool-total HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    clients: list[SSEClient] = []
    t0 = time.monotonic()
    for i in range(args.clients):
        _, proto = await loop.create_connection(
            lambda: SSEClient(request, latencies, state), "127.0.0.1", port
        )
        clients.append(proto)
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + 60
    connected = 0
    while time.monotonic() < deadline:
        connected = (await asyncio.to_thread(_status, port))["clients"]["connected"]
        if connected >= args.clients:
            break
        await asyncio.sleep(0.2)
    print(f"connected {connected} SSE clients in {time.monotonic() - t0:.1f}s")

    master = args._pid
    worker = _worker_pid(master)
    baseline: list[float] = []
    arrivals: list[tuple[bytes, dict[str, str], float, float]] | None = (
        [] if args.reorder_replay else None
    )
    baseline_future = _baseline_subscriber(baseline, state, arrivals)
    stop = threading.Event()
    published: list[int] = []
    total = args.warmup + args.duration
    publisher = threading.Thread(target=_publish, args=(args.rate, total, stop, published))
    publisher.start()
    await asyncio.sleep(args.warmup)
    state["measure"] = True
    base_events = sum(c.events for c in clients)
    cpu0, w0 = _cpu_seconds(worker), time.monotonic()
    own0 = time.process_time()
    await asyncio.sleep(args.duration)
    cpu1, w1 = _cpu_seconds(worker), time.monotonic()
    own1 = time.process_time()
    rss = _rss_mb(worker)
    state["measure"] = False
    delivered = sum(c.events for c in clients) - base_events
    await asyncio.to_thread(publisher.join, 30)
    await asyncio.sleep(1.0)
    status = await asyncio.to_thread(_status, port)
    baseline_future.cancel()
    latencies.sort()
    baseline.sort()

    def pct(p: float, values: list[float] = latencies) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

    print(
        f"published {published[0] if published else '?'} events at {args.rate:.0f}/s "
        f"({args.warmup:.0f}s warm-up + {args.duration:.0f}s measured)"
    )
    print(
        f"clients held: {status['clients']['connected']} / {args.clients}, "
        f"dropped: {status['clients']['dropped']}, closed by server: {sum(c.closed for c in clients)}"
    )
    print(
        f"deliveries: {delivered} in {w1 - w0:.1f}s = {delivered / (w1 - w0):,.0f} events/s "
        f"to clients ({len(latencies)} latency samples)"
    )
    print(
        f"latency publish->client: p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, "
        f"max {latencies[-1] if latencies else float('nan'):.1f} ms, "
        f"mean {statistics.fmean(latencies) if latencies else float('nan'):.1f} ms"
    )
    print(
        f"baseline publish->plain subscriber (Pub/Sub emulator alone): p50 {pct(0.5, baseline):.1f} ms, "
        f"p99 {pct(0.99, baseline):.1f} ms ({len(baseline)} samples)"
    )
    server = status.get("latency_ms", {})
    print(
        "server side (last 1000 samples): "
        + ", ".join(
            f"{name} p50 {v.get('p50')} / p99 {v.get('p99')} ms" for name, v in server.items()
        )
    )
    events = status.get("events", {})
    print(
        f"events in the bus: {events.get('in')}, late (released after a later id): "
        f"{events.get('late')}, duplicates: {events.get('duplicates')}"
    )
    print(f"server worker memory (RSS) with {status['clients']['connected']} streams: {rss:.0f} MB")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"CPU: server worker {100 * (cpu1 - cpu0) / (w1 - w0):.0f}% of one core, "
        f"benchmark clients+publisher {100 * (own1 - own0) / (w1 - w0):.0f}%"
    )
    if arrivals:
        _replay_rules(arrivals)
    ok = pct(0.99) < 250 and status["clients"]["connected"] >= args.clients
    print(f"target (>= {args.clients} clients, p99 < 250 ms): {'MET' if ok else 'NOT MET'}")


def _replay_rules(arrivals: list[tuple[bytes, dict[str, str], float, float]]) -> None:
    """Both reorder-hold rules on the plain subscriber's identical arrivals (see the module)."""
    from benchmarks.reorder_replay import Arrival, compare
    from webapp.events import parse_message

    topic = f"projects/{PROJECT}/topics/{_TOPIC}"
    recorded = [
        Arrival(parse_message(data, attrs, topic, published_at=pub), pub, arrived)
        for data, attrs, pub, arrived in arrivals
    ]
    for r in compare(recorded):
        print(
            f"replayed arrivals, hold from {r.rule} + {r.delay_ms} ms: late {r.late} of "
            f"{r.messages}, publish->release p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--flush-interval", type=float, default=None, help="SSE_FLUSH_INTERVAL")
    parser.add_argument("--reorder-ms", type=int, default=None, help="SSE_REORDER_MS")
    parser.add_argument(
        "--reorder-replay",
        action="store_true",
        help="also replay the plain subscriber's arrivals under both reorder-hold rules",
    )
    args = parser.parse_args(argv)

    logs = Path(tempfile.mkdtemp(prefix="bench-webapp-"))
    emulator = PubSubEmulator.start(logs / "pubsub-emulator.log")
    web: ManagedProcess | None = None
    try:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        ensure_topics(PROJECT, [*(t.name for t in catalog.TOPICS), REFERENCE_TOPIC])
        port = free_port()
        env = dict(
            os.environ,
            GOOGLE_CLOUD_PROJECT=PROJECT,
            PORT=str(port),
            WEBAPP_HOST="127.0.0.1",
            SSE_MAX_STREAMS=str(args.clients + 50),
            SSE_MAX_STREAMS_PER_CLIENT=str(args.clients + 50),
            WEBAPP_LOG_LEVEL="warning",
        )
        if args.flush_interval is not None:
            env["SSE_FLUSH_INTERVAL"] = str(args.flush_interval)
        if args.reorder_ms is not None:
            env["SSE_REORDER_MS"] = str(args.reorder_ms)
        web = ManagedProcess(
            "webapp",
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "-c",
                "webapp/gunicorn_conf.py",
                "webapp.app:create_app()",
            ],
            log_path=logs / "webapp.log",
            env=env,
            cwd=ROOT,
        ).start()
        wait_for_http(
            f"http://127.0.0.1:{port}/health",
            timeout=60,
            accept=lambda s, b: s == 200,
            alive=web.alive,
        )
        args._pid = web.pid
        asyncio.run(asyncio.wait_for(_run_clients(args, port), timeout=args.duration + 180))
    finally:
        if web is not None:
            web.stop()
        emulator.stop()
    print(f"logs: {logs}")


if __name__ == "__main__":
    main()
