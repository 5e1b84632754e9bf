"""What the end-to-end tests need around a running :class:`~devstack.system.LocalSystem`:
an SSE client, typed-topic readers, reading the BigQuery emulator back, and waiting for quiet."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contract import catalog, ingress
from devstack.pipeline_process import wait_until_flowing
from devstack.system import LocalSystem
from tests.e2e.accounting import RawRow, account
from tests.pipeline.pubsub_helpers import TopicReader
from webapp.replay import GAP_EVENT


@dataclass
class SseEvent:
    id: str
    event: str
    data: dict[str, Any]
    arrived_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class SseClient:
    """Reads ``/events`` on a thread; ``close()`` ends the stream, ``events`` keeps what came."""

    url: str
    last_event_id: str | None = None
    events: list[SseEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    """``replay-gap`` notices (sent without an id): what the web app could not replay."""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self.connected.wait(15):
            raise TimeoutError(f"SSE stream {self.url} did not open")

    def _run(self) -> None:
        parts = urlsplit(self.url)
        self._conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        self._conn.request(
            "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers
        )
        resp = self._conn.getresponse()
        assert resp.status == 200, resp.status
        self.connected.set()
        block: dict[str, str] = {}
        while not self._stop.is_set():
            try:
                raw = resp.readline()
            except (OSError, ValueError, AttributeError):  # closed under our feet by close()
                return
            if not raw:
                return
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in block and "id" in block:
                    self.events.append(
                        SseEvent(block["id"], block.get("event", ""), json.loads(block["data"]))
                    )
                elif "data" in block and block.get("event") == GAP_EVENT:
                    self.gaps.append(json.loads(block["data"]))
                block = {}
            elif line.startswith(":"):
                self.comments.append(line[1:].strip())
            else:
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                block[key] = block[key] + "\n" + value if key == "data" and key in block else value

    def is_open(self) -> bool:
        """The reader is still reading (the server has not ended the stream)."""
        return self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        if self._conn is not None:
            with contextlib.suppress(OSError, AttributeError):
                self._conn.sock.shutdown(2)
            self._conn.close()
        self._thread.join(5)

    def frame_ids(self) -> Counter[str]:
        # An event without one counts as "None": account() reports it as never sent.
        return Counter(str(e.data.get("frame_id")) for e in self.events)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Observed:
    """What the system stored, read back from the BigQuery emulator (probe frames excluded)."""

    raw: list[RawRow]
    typed: Counter[str]
    dead: dict[str, str]
    probe_ids: set[str]


def _timestamp_text(value: object) -> str | None:
    """A TIMESTAMP read back (datetime or text) in the contract's canonical form."""
    if isinstance(value, datetime):
        return ingress.format_timestamp(value)
    return ingress.canonical_timestamp(value) if isinstance(value, str) and value else None


def observe(system: LocalSystem) -> Observed:
    client = system.bq.client(system.project)
    ds = f"`{system.project}.{system.dataset}"

    def rows(sql: str) -> list[dict[str, Any]]:
        return [dict(r.items()) for r in client.query(sql).result()]

    raw_rows = rows(f"SELECT frame_id, data, connection_id, received_at FROM {ds}.raw_frames`")
    probe_ids = {r["frame_id"] for r in raw_rows if r["connection_id"] == "probe"}
    raw = [
        RawRow(r["frame_id"], r["data"], _timestamp_text(r["received_at"]))
        for r in raw_rows
        if r["frame_id"] not in probe_ids
    ]
    typed: Counter[str] = Counter()
    for table in {m.table for m in catalog.CATALOG if m.table}:
        for r in rows(f"SELECT frame_id FROM {ds}.{table}`"):
            if r["frame_id"] not in probe_ids:
                typed[r["frame_id"]] += 1
    dead = {
        r["frame_id"]: r["stage"] for r in rows(f"SELECT frame_id, stage FROM {ds}.dead_letters`")
    }
    return Observed(raw, typed, dead, probe_ids)


def raw_count(system: LocalSystem, probes: bool = False) -> int:
    """Rows in ``raw_frames``: the frames sent (default) or the readiness probes."""
    client = system.bq.client(system.project)
    where = "connection_id = 'probe'" if probes else "connection_id != 'probe'"
    sql = f"SELECT COUNT(*) AS n FROM `{system.project}.{system.dataset}.raw_frames` WHERE {where}"
    return next(iter(client.query(sql).result()))["n"]


def barrier(system: LocalSystem, timeout: float = 120) -> None:
    """Return once a probe frame published *now* has come out of the pipeline, on its typed
    topic and in ``raw_frames``: what was published to the ingress topic before it has been
    through the pipeline too, so a late duplicate would be visible.  The observable event that
    negative checks wait on instead of a fixed sleep (probes are excluded from the accounts).
    """
    before = raw_count(system, probes=True)
    wait_until_flowing(system.project, timeout=timeout)
    deadline = time.monotonic() + timeout
    while raw_count(system, probes=True) <= before:
        assert time.monotonic() < deadline, "the barrier probe never reached raw_frames"
        time.sleep(0.2)


def wait_for_simulator_done(system: LocalSystem, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = system.simulator_stats()
        if stats.get("done"):
            return stats
        time.sleep(0.3)
    raise TimeoutError(f"simulator not done: {system.simulator_stats()}")


def wait_until_settled(system: LocalSystem, expected_raw: int, timeout: float = 180) -> int:
    """Wait until ``raw_frames`` holds ``expected_raw`` frames, then for a :func:`barrier` (so
    that a duplicate would show); returns the final count."""
    deadline = time.monotonic() + timeout
    count = raw_count(system)
    while count < expected_raw and time.monotonic() < deadline:
        time.sleep(0.5)
        count = raw_count(system)
    barrier(system)
    return raw_count(system)


def sent_frames(system: LocalSystem) -> list[str]:
    """The frame texts the simulator put on a socket (data, duplicates, malformed)."""
    return [r["frame"] for r in read_jsonl(system.simulator_record)]


def captured_frames(system: LocalSystem) -> list[str]:
    """The frame texts the connector received and forwarded."""
    return [r["data"] for r in read_jsonl(system.capture_path)]


def check_accounts(
    system: LocalSystem,
    reader: TopicReader,
    sent: list[str],
    sse: SseClient | None = None,
    timeout: float = 90.0,
) -> Observed:
    """Wait for the system to settle, then assert every frame is accounted for.

    BigQuery rows and topic messages of the last bundles can trail the raw rows by a moment, so
    the accounts are taken again until they balance or ``timeout`` passes; what is still wrong
    then fails the test.  (Missing things can still arrive; duplicates never go away, so a
    retry cannot hide one.)
    """
    wait_until_settled(system, len(sent))
    deadline = time.monotonic() + timeout
    while True:
        observed = observe(system)
        reader.pull_once()
        topics = Counter(
            r.attributes["frame_id"]
            for r in reader.received
            if r.attributes["frame_id"] not in observed.probe_ids
            and r.topic != catalog.DEAD_LETTER_TOPIC
        )
        dead_topic = Counter(
            r.attributes["frame_id"]
            for r in reader.received
            if r.topic == catalog.DEAD_LETTER_TOPIC
        )
        sse_ids = None
        if sse is not None:
            sse_ids = Counter(
                {k: v for k, v in sse.frame_ids().items() if k not in observed.probe_ids}
            )
        problems = account(sent, observed.raw, observed.typed, observed.dead, topics, sse_ids)
        if set(dead_topic) != set(observed.dead) or any(n > 1 for n in dead_topic.values()):
            problems.append(f"dead-letter topic {dict(dead_topic)} != table {observed.dead}")
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    assert problems == [], "\n".join(problems[:30])
    barrier(system)  # and nothing more (a late duplicate) arrives before a frame sent after all
    reader.pull_once()
    late = Counter(
        r.attributes["frame_id"] for r in reader.received if r.topic != catalog.DEAD_LETTER_TOPIC
    )
    assert all(late[f] <= 1 for f in observed.typed), "a typed message arrived twice"
    return observed
