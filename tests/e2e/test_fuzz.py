"""End-to-end fuzz run: a few thousand hostile and good messages through the real pipeline process
(Pub/Sub emulator in, BigQuery emulator and the dead-letter topic out), every one accounted for.

The corpus comes from the same Hypothesis strategies as the unit fuzz suite (``tests/fuzz``),
drawn deterministically, plus frames around the size limit (one over gRPC's 4 MiB), transport
duplicates, and good frames published *after* all of them.  Each sent message must end as:

* a transport duplicate (same ``frame_id`` as an earlier one): not stored again;
* otherwise exactly one ``raw_frames`` row, and
  - a ``dead_letters`` row (and dead-letter topic message) with the stage ``process_frame``
    assigns, or
  - a typed row (for its entity and content, see semantic dedup), or nothing more (raw-only).

``stuck`` counts unique frames with no raw row (never processed) although the good frames sent
after them arrived (and a bounded wait for trailing rows passed); ``vanished`` counts processed frames missing their dead letter or typed row.
Both must be 0.  The numbers are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from contract import catalog, ingress
from devstack.bigquery_emulator import local_bigquery_env
from devstack.pipeline_process import start_pipeline, wait_until_flowing
from devstack.provision import ensure_subscription, provision_pubsub
from pipeline.core import process_frame
from pipeline.local_runner import UNLIMITED_CHANNEL_OPTIONS
from tests.fuzz import hostile
from testsupport import examples

pytestmark = [pytest.mark.emulator, pytest.mark.bigquery, pytest.mark.slow]

PROJECT = "e2e-fuzz"
DATASET = "fuzz"
HOSTILE = 1500
GOOD = 250
DUPLICATES = 100
AFTER = 50


@dataclass
class Sent:
    data: bytes
    attributes: dict[str, str]
    message_id: str = ""


@dataclass
class Accounts:
    sent: int = 0
    refused_at_publish: int = 0
    transport_duplicates: int = 0
    unique: int = 0
    raw_rows: int = 0
    typed: int = 0
    semantic_duplicates: int = 0
    raw_only: int = 0
    dead_by_stage: Counter[str] = field(default_factory=Counter)
    stuck: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"sent={self.sent} refused_at_publish={self.refused_at_publish} "
            f"transport_duplicates={self.transport_duplicates} unique={self.unique} "
            f"raw_rows={self.raw_rows} typed={self.typed} "
            f"semantic_duplicates={self.semantic_duplicates} raw_only={self.raw_only} "
            f"dead_letters={dict(sorted(self.dead_by_stage.items()))} "
            f"stuck={len(self.stuck)} vanished={len(self.vanished)} "
            f"unexpected={len(self.unexpected)}"
        )


def _good(n: int, tag: str) -> list[Sent]:
    out = []
    for i in range(n):
        bet = f"{tag}{i:08d}".ljust(32, "0")
        message = examples.example_message("BetAccepted", betId=bet)
        data, attrs = examples.ingress_message(examples.frame("BetAccepted", message))
        attrs[ingress.ATTR_FRAME_ID] = f"{tag}-{i}"
        out.append(Sent(data, attrs))
    return out


def corpus() -> tuple[list[Sent], list[Sent]]:
    """(everything but the last good frames, the good frames sent after all of them).

    Drawing thousands of examples through Hypothesis takes a minute, so a few hundred frames
    and attribute sets are drawn from the fuzz suite's strategies and paired up
    deterministically: mostly hostile frames with the connector's attributes (the frame is
    what is tested), then hostile frames or good ones with hostile attributes.
    """
    frames = hostile.draw(hostile.frames_data, 200)
    catalog_frames = hostile.draw(hostile.catalog_frames(), 100)
    attribute_sets = hostile.draw(hostile.attributes(), 120)
    good_frames = [examples.frame(m.name) for m in catalog.CATALOG]
    rng = random.Random(7)
    sent: list[Sent] = []
    for i in range(HOSTILE):
        roll = rng.random()
        if roll < 0.35:
            data, subscription = rng.choice(catalog_frames)
            data, attrs = examples.ingress_message(data, subscription=subscription)
        elif roll < 0.6:
            data, attrs = examples.ingress_message(rng.choice(frames))
        else:
            data = rng.choice(frames) if roll < 0.85 else rng.choice(good_frames)
            attrs = dict(rng.choice(attribute_sets))
        frame_id = attrs.get(ingress.ATTR_FRAME_ID)
        if frame_id:  # unique, so the accounts are unambiguous; long ones stay long
            long = len(frame_id.encode()) > 1024
            attrs[ingress.ATTR_FRAME_ID] = f"fz{i}-" + (frame_id if long else "")
        sent.append(Sent(data, attrs))
    good = _good(GOOD, "aa")
    for i, message in enumerate(good):  # interleave good frames with the hostile ones
        sent.insert(i * len(sent) // GOOD, message)
    for i, data in enumerate(hostile.draw(hostile.big_frames(), 6)):
        _, attrs = examples.ingress_message(data)
        attrs[ingress.ATTR_FRAME_ID] = f"big-{i}"
        sent.insert(len(sent) // 2 + i, Sent(data, attrs))
    with_ids = [s for s in sent if s.attributes.get(ingress.ATTR_FRAME_ID)]
    for i in range(DUPLICATES):  # transport duplicates, sent again later
        original = with_ids[(i * 37) % len(with_ids)]
        sent.append(Sent(original.data, dict(original.attributes)))
    return sent, _good(AFTER, "ff")


def _publish(publisher: pubsub_v1.PublisherClient, messages: list[Sent]) -> int:
    """Publish in order; returns how many Pub/Sub (the emulator or the client) refused."""
    topic = publisher.topic_path(PROJECT, catalog.INGRESS_TOPIC)
    futures = []
    refused = 0
    for m in messages:
        try:
            futures.append((m, publisher.publish(topic, m.data, **m.attributes)))  # type: ignore[arg-type]  # str attributes (mypy: retry=)
        except (ValueError, TypeError):  # e.g. neither data nor attributes
            refused += 1
            m.message_id = "refused"
    for m, future in futures:
        try:
            m.message_id = future.result(60)
        except Exception:  # noqa: BLE001 - any publish failure is counted as refused
            refused += 1
            m.message_id = "refused"
    return refused


def _rows(client, sql: str) -> list[dict[str, Any]]:
    return [dict(r.items()) for r in client.query(sql).result()]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1.0)


def _unlimited_subscriber() -> pubsub_v1.SubscriberClient:
    channel = grpc.insecure_channel(
        os.environ["PUBSUB_EMULATOR_HOST"], options=list(UNLIMITED_CHANNEL_OPTIONS)
    )
    transport = SubscriberGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return pubsub_v1.SubscriberClient(transport=transport)


def account(
    messages: list[Sent],
    raw: Counter[str],
    dead: dict[str, list[str]],
    typed: Counter[str],
    dead_topic: Counter[str],
) -> Accounts:
    """Where every sent message went (see the module docstring)."""
    acc = Accounts(sent=len(messages))
    seen: set[str] = set()
    groups: dict[tuple[str, str], list[str]] = {}
    for m in messages:
        if m.message_id == "refused":
            acc.refused_at_publish += 1
            continue
        frame = process_frame(m.data, m.attributes, message_id=m.message_id)
        fid = frame.frame_id
        if fid in seen:
            acc.transport_duplicates += 1
            continue
        seen.add(fid)
        acc.unique += 1
        if raw[fid] == 0:
            acc.stuck.append(f"{fid}: no raw row")
            continue
        acc.raw_rows += 1
        if raw[fid] > 1:
            acc.unexpected.append(f"{fid}: {raw[fid]} raw rows")
        if frame.dead_letter is not None:
            stages = dead.get(fid, [])
            if stages != [frame.dead_letter.stage]:
                acc.vanished.append(f"{fid}: dead letters {stages}, expected {frame.dead_letter}")
            elif dead_topic[fid] != 1:
                acc.vanished.append(f"{fid}: {dead_topic[fid]} dead-letter topic messages")
            else:
                acc.dead_by_stage[frame.dead_letter.stage] += 1
        elif frame.event is not None:
            groups.setdefault((frame.event.key, frame.event.fingerprint), []).append(fid)
        else:
            acc.raw_only += 1
    for ids in groups.values():
        stored = [fid for fid in ids if typed[fid]]
        if not stored:
            acc.vanished.append(f"none of {ids[:3]} reached its typed table")
        acc.typed += len(stored)
        acc.semantic_duplicates += len(ids) - len(stored)
    expected_typed = {fid for ids in groups.values() for fid in ids}
    acc.unexpected += [f"{fid}: typed row {n}x" for fid, n in typed.items() if n > 1]
    acc.unexpected += [f"{fid}: typed but not valid" for fid in typed if fid not in expected_typed]
    return acc


def test_hostile_corpus_is_fully_accounted_for(pubsub_emulator, bigquery_emulator, tmp_path):
    from pipeline import tables

    bq = bigquery_emulator.client(PROJECT)
    tables.ensure_all(bq, PROJECT, DATASET)
    provision_pubsub(PROJECT, "fuzz-ingress")
    subscriber = _unlimited_subscriber()
    dead_sub = ensure_subscription(PROJECT, catalog.DEAD_LETTER_TOPIC, "fuzz-dead-letters")
    env = dict(os.environ)
    env.update(local_bigquery_env(bigquery_emulator, PROJECT, tmp_path))
    env["GOOGLE_CLOUD_PROJECT"] = PROJECT
    sent, after = corpus()
    log = Path(os.environ.get("FUZZ_LOG_DIR", tmp_path)) / "pipeline-fuzz.log"
    proc = start_pipeline(PROJECT, log, env, subscription="fuzz-ingress", dataset=DATASET)
    dead_topic: Counter[str] = Counter()

    def drain_dead_letters() -> None:
        while True:
            resp = subscriber.pull(subscription=dead_sub, max_messages=100, timeout=2)
            if not resp.received_messages:
                return
            subscriber.acknowledge(
                subscription=dead_sub, ack_ids=[m.ack_id for m in resp.received_messages]
            )
            for m in resp.received_messages:
                dead_topic[m.message.attributes.get("frame_id", "")] += 1

    try:
        wait_until_flowing(PROJECT, proc)
        publisher = pubsub_v1.PublisherClient()
        started = time.monotonic()
        refused = _publish(publisher, sent)
        refused += _publish(publisher, after)
        ds = f"`{PROJECT}.{DATASET}"
        after_ids = {m.attributes[ingress.ATTR_FRAME_ID] for m in after}

        def after_arrived() -> bool:
            sql = f"SELECT frame_id FROM {ds}.bet_lifecycle` WHERE frame_id LIKE 'ff-%'"
            return {r["frame_id"] for r in _rows(bq, sql)} >= after_ids

        _wait_for(after_arrived, 120, "the good frames sent last")
        elapsed = time.monotonic() - started
        # Rows of earlier bundles may trail (a BigQuery insert retried): wait for as many raw
        # rows as there are unique frames, bounded; what is still missing then is stuck.
        unique = len(
            {
                process_frame(m.data, m.attributes, message_id=m.message_id).frame_id
                for m in sent + after
                if m.message_id != "refused"
            }
        )
        count_sql = (
            f"SELECT COUNT(*) AS n FROM {ds}.raw_frames` "
            "WHERE connection_id IS NULL OR connection_id != 'probe'"
        )
        with contextlib.suppress(AssertionError):
            _wait_for(lambda: _rows(bq, count_sql)[0]["n"] >= unique, 60, "every raw row")
        time.sleep(3)  # anything still in flight (or a duplicate) lands now
        drain_dead_letters()

        probe = {
            r["frame_id"]
            for r in _rows(
                bq, f"SELECT frame_id FROM {ds}.raw_frames` WHERE connection_id = 'probe'"
            )
        }
        raw = Counter(r["frame_id"] for r in _rows(bq, f"SELECT frame_id FROM {ds}.raw_frames`"))
        dead: dict[str, list[str]] = {}
        for r in _rows(bq, f"SELECT frame_id, stage FROM {ds}.dead_letters`"):
            dead.setdefault(r["frame_id"], []).append(r["stage"])
        typed: Counter[str] = Counter()
        for table in {m.table for m in catalog.CATALOG if m.table}:
            for r in _rows(bq, f"SELECT frame_id FROM {ds}.{table}`"):
                if r["frame_id"] not in probe:
                    typed[r["frame_id"]] += 1
        accounts = account(sent + after, raw, dead, typed, dead_topic)
    finally:
        proc.stop()
        subscriber.delete_subscription(subscription=dead_sub)
        subscriber.close()

    print(f"\nfuzz e2e in {elapsed:.1f}s: {accounts.summary()}")
    assert accounts.refused_at_publish == refused
    assert accounts.stuck == [], accounts.stuck[:10]
    assert accounts.vanished == [], accounts.vanished[:10]
    assert accounts.unexpected == [], accounts.unexpected[:10]
    assert accounts.transport_duplicates >= DUPLICATES
    assert sum(accounts.dead_by_stage.values()) > HOSTILE // 2
    assert accounts.dead_by_stage["oversized"] >= 2  # incl. one over gRPC's 4 MiB
