"""The web app as deployed: gunicorn (``webapp/gunicorn_conf.py``) + the official Pub/Sub emulator."""

from __future__ import annotations

import json
import signal
import socket
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from devstack.provision import WEBAPP_TOPIC_RETENTION, ensure_topics
from devstack.pubsub_emulator import PubSubEmulator
from tests.webapp.messages import PRODUCT, WEBAPP_TOPICS, event_status, pool_total, product_status
from tests.webapp.servers import WAIT, poll, webapp_server
from webapp import sse
from webapp.events import EventKey

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture
def prefix(pubsub_emulator: PubSubEmulator, project: str) -> str:
    name = f"g{uuid.uuid4().hex[:8]}-"
    ensure_topics(project, [f"{name}{t}" for t in WEBAPP_TOPICS], retention=WEBAPP_TOPIC_RETENTION)
    return name


class Publisher:
    def __init__(self, project: str, prefix: str) -> None:
        self.client = pubsub_v1.PublisherClient()
        self.project = project
        self.prefix = prefix

    def __call__(self, *messages: tuple[bytes, dict[str, str], str]) -> None:
        futures = [
            self.client.publish(
                self.client.topic_path(self.project, self.prefix + topic),
                data,
                **attrs,  # type: ignore[arg-type]  # str attributes (mypy: retry=)
            )
            for data, attrs, topic in messages
        ]
        for future in futures:
            future.result(timeout=30)


@pytest.fixture
def publish(project: str, prefix: str) -> Publisher:
    return Publisher(project, prefix)


@pytest.fixture
def env(project: str, prefix: str, pubsub_emulator: PubSubEmulator) -> dict[str, str]:
    return {
        "GOOGLE_CLOUD_PROJECT": project,
        "WEBAPP_TOPIC_PREFIX": prefix,
        "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
    }


@pytest.fixture
def logs(logs_dir: Path) -> Iterator[Path]:
    yield logs_dir


def fat_pool_total(i: int) -> tuple[bytes, dict[str, str], str]:
    data, attributes, topic = pool_total(str(i))
    message = json.loads(data)
    message["payload"]["padding"] = "x" * 2000  # unknown fields pass through untouched
    return json.dumps(message).encode(), attributes, topic


def _amounts(messages: list[sse.Message]) -> list[str]:
    amounts = []
    for m in messages:
        if m.event == "pool-total":
            body = m.json()
            assert isinstance(body, dict), body
            amounts.append(body["data"]["gross_amounts"][0]["amount"])
    return amounts


def test_published_events_reach_a_connected_sse_client(
    logs: Path, env: dict[str, str], publish: Publisher
) -> None:
    with webapp_server(logs, **env) as app:
        status = app.status()
        assert [s["state"] for s in status["pubsub"]["subscriptions"]] == ["active"] * len(
            WEBAPP_TOPICS
        )
        everything = app.stream()
        pools = app.stream(f"/events?types=pool-total&product_id={PRODUCT}")
        assert everything.status == 200
        assert everything.response.getheader("Content-Type", "").startswith("text/event-stream")
        assert poll(lambda: app.status()["clients"]["connected"] == 2)
        publish(product_status("OPEN"), pool_total("100.5"), event_status("OFF"))
        got = everything.read_until(3)
        assert sorted(m.event for m in got) == ["event-status", "pool-total", "product-status"]
        assert all(EventKey.parse(m.id) is not None for m in got)  # ids from the data
        assert _amounts(pools.read_until(1)) == ["100.5"]
        everything.close()
        pools.close()


def test_two_instances_both_receive_every_event(
    logs: Path, env: dict[str, str], publish: Publisher
) -> None:
    with webapp_server(logs, "webapp-a", **env) as a, webapp_server(logs, "webapp-b", **env) as b:
        streams = [a.stream("/events?types=pool-total"), b.stream("/events?types=pool-total")]
        assert poll(
            lambda: (
                a.status()["clients"]["connected"] == 1 and b.status()["clients"]["connected"] == 1
            )
        )
        amounts = [f"{i}.25" for i in range(30)]
        publish(*(pool_total(x) for x in amounts))
        for stream in streams:
            assert sorted(_amounts(stream.read_until(30)), key=float) == amounts
            stream.close()


def test_last_event_id_replay_has_no_gap(
    logs: Path, env: dict[str, str], publish: Publisher
) -> None:
    with webapp_server(logs, **env) as app:
        first = app.stream()
        assert poll(lambda: app.status()["clients"]["connected"] == 1)
        publish(*(pool_total(f"{i}") for i in range(5)))
        seen = first.read_until(5)
        first.close()
        assert poll(lambda: app.status()["clients"]["connected"] == 0)
        publish(*(pool_total(f"{i}") for i in range(5, 10)))
        assert poll(lambda: app.status()["events"]["in"] == 10)
        again = app.stream(headers={"Last-Event-ID": seen[-1].id})  # type: ignore[dict-item]  # a streamed event always has an id
        publish(pool_total("10"))
        resumed = again.read_until(6)
        ids = [m.id for m in seen + resumed]
        assert len(set(ids)) == 11  # every event once
        assert sorted(_amounts(seen + resumed), key=int) == [str(i) for i in range(11)]
        assert not any(m.event == "replay-gap" for m in resumed)
        again.close()


def test_a_slow_client_is_dropped_while_a_fast_one_keeps_up(
    logs: Path, env: dict[str, str], publish: Publisher
) -> None:
    settings = {
        **env,
        "SSE_BUFFER_SIZE": "2000",
        # More than the 400 events published: only a reader that stops reading is dropped
        # (no write progress for SSE_WRITE_TIMEOUT), never one that is briefly descheduled.
        "SSE_CLIENT_QUEUE": "1000",
        "SSE_SEND_BUFFER_BYTES": "8192",  # small kernel buffers: a stalled reader shows at once
        "SSE_WRITE_TIMEOUT": "3",
    }
    with webapp_server(logs, **settings) as app:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", app.port))
        slow.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")  # ... and never reads again
        fast = app.stream()
        assert poll(lambda: app.status()["clients"]["connected"] == 2)
        total = 400
        reader = threading.Thread(target=fast.read_until, args=(total,), daemon=True)
        reader.start()  # the fast client reads while events are published
        for start in range(0, total, 50):
            # fat payloads (~2 KB) fill the slow client's buffers quickly
            publish(*(fat_pool_total(i) for i in range(start, start + 50)))
        reader.join(WAIT)
        assert sorted(int(a) for a in _amounts(fast.received)) == list(range(total))
        assert poll(lambda: app.status()["clients"]["dropped"] == 1), app.status()["clients"]
        assert app.status()["clients"]["connected"] == 1
        fast.close()
        slow.close()


def test_sigterm_ends_streams_and_deletes_the_subscriptions(
    logs: Path, env: dict[str, str], project: str, prefix: str
) -> None:
    admin = pubsub_v1.SubscriberClient()

    def ours() -> list[str]:
        return [
            s.name
            for s in admin.list_subscriptions(request={"project": f"projects/{project}"})
            if f"/{prefix}" in s.name
        ]

    with webapp_server(logs, **env) as app:
        stream = app.stream()
        assert poll(lambda: app.status()["clients"]["connected"] == 1)
        assert len(ours()) == len(WEBAPP_TOPICS)
        app.process.signal(signal.SIGTERM)
        stream.read_until(10**6, timeout=WAIT)  # returns at end of stream
        assert stream.response.isclosed() or stream.response.read1(1) == b""
        assert poll(lambda: not app.process.alive())
        assert ours() == []


def test_the_stream_continues_exactly_once_across_a_restart_on_another_port(
    logs: Path, env: dict[str, str], publish: Publisher
) -> None:
    """Instance A serves the first events and stops; events go on; instance B (another port,
    started after them) seeks its window and resumes the client from its Last-Event-ID."""

    def numbered(i: int) -> tuple[bytes, dict[str, str], str]:
        return pool_total(str(i), received_at=f"2026-11-26T14:03:{i // 1000:02d}.{i % 1000:03d}Z")

    with webapp_server(logs, name="webapp-a", **env) as a:
        stream = a.stream()
        assert poll(lambda: a.status()["clients"]["connected"] == 1)
        publish(*(numbered(i) for i in range(20)))
        seen = stream.read_until(20)
        stream.close()
    publish(*(numbered(i) for i in range(20, 40)))  # while no instance is up
    with webapp_server(logs, name="webapp-b", **env) as b:
        state = json.loads(urllib.request.urlopen(b.url("/state"), timeout=WAIT).read())
        assert state["count"] == 1  # one pool: its latest total
        resumed_stream = b.stream(headers={"Last-Event-ID": seen[-1].id})  # type: ignore[dict-item]  # a streamed event always has an id
        publish(*(numbered(i) for i in range(40, 45)))
        resumed = resumed_stream.read_until(25)
        resumed_stream.close()
    ids = [m.id for m in seen + resumed]
    assert not any(m.event == "replay-gap" for m in resumed)
    assert _amounts(seen + resumed) == [str(i) for i in range(45)]  # all, once, in order
    assert len(set(ids)) == 45
