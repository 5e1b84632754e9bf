"""The Beam steps of the pipeline: thin shells over the plain functions of the core.

Reading top to bottom follows the README's diagram::

    ParseFrames → DropTransportDuplicates ─┬─ raw rows, dead-letter rows ───────┬→ WriteBigQuery
                                           ├─ dead-letter messages ─────────────┼→ Publish
                                           └─ DropSemanticDuplicates ─ typed rows ┘ + messages

Both deduplication steps are keyed by the frame's dedup key (the entity for typed messages, a
bounded shard otherwise), so the number of keys — and the state — is bounded by the entities in
play rather than by frames; timers clear the state when the window/TTL has passed.  That also
matters locally: Beam's direct runner scans every key's timers on each step, and costs grow with
the number of keys.

Step labels are the Dataflow update contract: never rename one casually.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Timestamp

from contract import catalog, ingress
from pipeline import dedup, records
from pipeline.core import process_frame
from pipeline.records import DeadLetter, Frame

__all__ = [
    "NAMESPACE",
    "DeadLetterFailedRowsFn",
    "ParseFrameFn",
    "ProcessFrames",
    "ProcessedFrames",
    "PublishFn",
    "SemanticDedupFn",
    "TransportDedupFn",
    "failed_row_to_dead_letter",
    "table_for_row",
]

NAMESPACE = "tote"
"""Beam metrics namespace (Dataflow shows counters as tote/<name>)."""

_log = logging.getLogger(__name__)


class _Counters:
    """Counters created on first use, so per-type and per-reason names need no list."""

    def __init__(self) -> None:
        self._counters: dict[str, Any] = {}

    def inc(self, name: str, n: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(NAMESPACE, name)
        counter.inc(n)


class ParseFrameFn(beam.DoFn):
    """Pub/Sub message → ``(shard, Frame)``; never fails on bad input (see ``process_frame``)."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.counters = _Counters()

    def start_bundle(self) -> None:
        # One ingestion time per bundle: formatting a timestamp per frame is measurable.
        self._ingested_at = ingress.format_timestamp(datetime.now(UTC))

    def process(self, message: PubsubMessage) -> Any:
        frame = process_frame(
            message.data or b"",
            message.attributes,
            message_id=message.message_id,
            publish_time=message.publish_time,
            now=self._ingested_at,
        )
        self.counters.inc("frames_in")
        if frame.dead_letter is not None:
            self.counters.inc(f"invalid_{frame.dead_letter.stage}")
        else:
            self.counters.inc(f"parsed_{frame.message_type}")
        yield dedup.shard_of(frame.dedup_key, self.shards), frame


class _ShardedStateFn(beam.DoFn):
    """Shared shape of the two dedup steps: keyed by shard, one dict of state per shard, a timer
    at the next expiry that prunes it (so memory holds one window / TTL of entries).

    Keying by a fixed number of shards rather than by entity keeps the number of keys (and of
    timers) constant; on Beam's local runner, which scans every key's timers on every step, that
    is the difference between a pipeline that keeps up and one that slows down all day.
    """

    lifetime_micros: int
    counters: _Counters

    def _schedule(self, now: int, next_expiry: Any, expire_timer: Any) -> None:
        if next_expiry.read() is None:
            next_expiry.write(now + self.lifetime_micros)
            expire_timer.set(Timestamp(micros=now + self.lifetime_micros))

    def _prune(
        self, fired: int, state: Any, next_expiry: Any, expire_timer: Any, counter: str
    ) -> None:
        entries = state.read() or {}
        before = len(entries)
        oldest = dedup.expire(entries, fired, self.lifetime_micros)
        self.counters.inc(counter, before - len(entries))
        next_expiry.clear()
        if oldest is None:
            state.clear()
            return
        state.write(entries)
        due = dedup.next_prune(oldest, fired, self.lifetime_micros)
        next_expiry.write(due)
        expire_timer.set(Timestamp(micros=due))


class TransportDedupFn(_ShardedStateFn):
    """Drops a frame whose ``frame_id`` was already seen (in its shard) within the window."""

    STATE = ReadModifyWriteStateSpec("state", PickleCoder())
    NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)  # a timer spec serves one DoFn class

    def __init__(self, window_s: int) -> None:
        self.lifetime_micros = int(window_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[int, Frame],
        timestamp: Any = beam.DoFn.TimestampParam,
        state: Any = beam.DoFn.StateParam(STATE),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        now = timestamp.micros
        seen = state.read() or {}
        if dedup.record_transport(seen, frame.frame_id, now, self.lifetime_micros):
            self.counters.inc("dropped_transport_duplicate")
            return
        state.write(seen)
        self._schedule(now, next_expiry, expire)
        yield element

    @on_timer(EXPIRE)
    def expire_seen(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        state: Any = beam.DoFn.StateParam(STATE),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> None:
        self._prune(fired.micros, state, next_expiry, expire, "transport_ids_expired")


class SemanticDedupFn(_ShardedStateFn):
    """Drops a typed event whose content equals the last one emitted for its entity within the
    TTL, and routes every frame it is given (all unique frames pass through here):

    * every frame → its raw row (output ``rows``);
    * a dead letter → a dead-letter row (``rows``) and message (main output);
    * a typed event that is not a semantic duplicate → its typed row (``rows``) and its typed
      topic message (main output).

    One step emits every row and every message, so each sink reads one PCollection: on the
    local runner every step and every Flatten input costs a per-bundle overhead (Dataflow would
    fuse them anyway).  Frames without an event carry no fingerprint and touch no state.
    """

    ROWS = "rows"
    STATE = ReadModifyWriteStateSpec("state", PickleCoder())
    NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)  # a timer spec serves one DoFn class

    def __init__(self, ttl_s: int) -> None:
        self.lifetime_micros = int(ttl_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[int, Frame],
        timestamp: Any = beam.DoFn.TimestampParam,
        state: Any = beam.DoFn.StateParam(STATE),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        yield beam.pvalue.TaggedOutput(self.ROWS, records.raw_row(frame))
        if frame.dead_letter is not None:
            row = records.frame_dead_letter_row(frame)
            yield beam.pvalue.TaggedOutput(self.ROWS, row)
            yield records.dead_letter_message(row)
            return
        for record in frame.reference:  # query pages: reference history + reference topic
            yield beam.pvalue.TaggedOutput(self.ROWS, records.reference_row(frame, record))
            yield records.reference_message(frame, record)
        if not frame.events:  # raw-only types and connector test messages
            return
        now = timestamp.micros
        last = state.read() or {}
        emitted = False
        for event in frame.events:
            if dedup.record_semantic(last, event.key, event.fingerprint, now, self.lifetime_micros):
                self.counters.inc("dropped_semantic_duplicate")
                self.counters.inc(f"dropped_semantic_duplicate_{event.message_type}")
                continue
            emitted = True
            self.counters.inc(f"emitted_{event.message_type}")
            yield records.typed_message(frame, event)
            yield beam.pvalue.TaggedOutput(self.ROWS, records.typed_row(frame, event))
        if emitted:
            state.write(last)
            self._schedule(now, next_expiry, expire)

    @on_timer(EXPIRE)
    def expire_last(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        state: Any = beam.DoFn.StateParam(STATE),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> None:
        self._prune(fired.micros, state, next_expiry, expire, "semantic_state_expired")


class ProcessedFrames(NamedTuple):
    """What :class:`ProcessFrames` produces: every BigQuery row (raw, typed, dead-letter; see
    :func:`table_for_row`) and every Pub/Sub message ``(topic, data, attributes)``."""

    rows: beam.PCollection
    messages: beam.PCollection


class ProcessFrames(beam.PTransform):
    """Pub/Sub messages → rows and messages for the sinks, both dedups applied."""

    def __init__(self, transport_window_s: int, semantic_ttl_s: int, shards: int = 64) -> None:
        super().__init__()
        self.transport_window_s = transport_window_s
        self.semantic_ttl_s = semantic_ttl_s
        self.shards = shards

    def expand(self, messages: beam.PCollection) -> ProcessedFrames:
        keyed = messages | "ParseFrames" >> beam.ParDo(ParseFrameFn(self.shards)).with_output_types(
            tuple[int, Frame]
        )
        unique = keyed | "DropTransportDuplicates" >> beam.ParDo(
            TransportDedupFn(self.transport_window_s)
        ).with_input_types(tuple[int, Frame]).with_output_types(tuple[int, Frame])
        out = unique | "DropSemanticDuplicates" >> beam.ParDo(
            SemanticDedupFn(self.semantic_ttl_s)
        ).with_input_types(tuple[int, Frame]).with_outputs(SemanticDedupFn.ROWS, main="messages")
        return ProcessedFrames(rows=out[SemanticDedupFn.ROWS], messages=out.messages)


def table_for_row(row: dict[str, Any]) -> str:
    """Which table a row built by ``pipeline.records`` belongs to (one BigQuery sink for all)."""
    if "stage" in row:
        return catalog.DEAD_LETTER_TABLE
    if "reference_kind" in row:
        return catalog.REFERENCE_TABLES[row["reference_kind"]]
    if "payload" in row:
        spec = catalog.by_name(row["message_type"])
        if spec is not None and spec.table:
            return spec.table
    return catalog.RAW_TABLE


def failed_row_to_dead_letter(failed: Any) -> dict[str, Any]:
    """A row BigQuery refused → a dead-letter row keeping the row, the table and the errors."""
    destination, row, errors = ([*list(failed), None, None, None])[:3]
    row_text = records.dumps(row)
    return records.dead_letter_row(
        row_text.encode(),
        {},
        DeadLetter(
            "bigquery",
            f"BigQuery rejected the row: {records.dumps(errors)}"[:4000],
            None,
            str(destination),
        ),
        failed_at=ingress.format_timestamp(datetime.now(UTC)),
        frame_id=row.get("frame_id") if isinstance(row, dict) else None,
        received_at=row.get("received_at") if isinstance(row, dict) else None,
        message_type=row.get("message_type") if isinstance(row, dict) else None,
    )


_PUBLISHERS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()  # guards both per-process client caches below


def _shared_publisher() -> Any:
    """One batching PublisherClient per worker process, shared by every PublishFn instance.

    Runners may deserialize a fresh DoFn (and call ``setup``) far more often than once per
    worker — the direct runner does it for every bundle — and a publisher owns gRPC channels
    and a batching thread, so it is kept for the process's lifetime.
    """
    from google.cloud import pubsub_v1

    with _CLIENTS_LOCK:
        client = _PUBLISHERS.get("default")
        if client is None:
            client = _PUBLISHERS["default"] = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(
                    max_messages=500, max_bytes=5_000_000, max_latency=0.005
                )
            )
        return client


class PublishFn(beam.DoFn):
    """Publishes ``(topic, data, attributes)`` through the worker's shared batching publisher.

    Publishes are asynchronous; ``finish_bundle`` waits for every future, so a failed publish
    fails the bundle and the runner retries it (at-least-once; subscribers dedup by frame_id).
    One DoFn for all topics instead of one sink per topic keeps the graph small.
    """

    def __init__(self, project: str, topic_prefix: str = "") -> None:
        self.project = project
        self.topic_prefix = topic_prefix
        self.counters = _Counters()

    def setup(self) -> None:
        self._client = _shared_publisher()
        self._paths: dict[str, str] = {}

    def start_bundle(self) -> None:
        self._futures: list[Any] = []

    def process(self, message: tuple[str, bytes, dict[str, str]]) -> None:
        topic, data, attributes = message
        path = self._paths.get(topic)
        if path is None:
            path = self._paths[topic] = self._client.topic_path(
                self.project, self.topic_prefix + topic
            )
        self._futures.append(self._client.publish(path, data, **attributes))
        self.counters.inc(f"published_{topic}")

    def finish_bundle(self) -> None:
        futures, self._futures = self._futures, []
        for future in futures:
            future.result(timeout=120)


_BQ_CLIENTS: dict[str, Any] = {}


def _shared_bigquery(project: str) -> Any:
    """One google-cloud-bigquery client per project and worker process (honours
    ``BIGQUERY_EMULATOR_HOST`` locally)."""
    from google.cloud import bigquery

    with _CLIENTS_LOCK:
        client = _BQ_CLIENTS.get(project)
        if client is None:
            client = _BQ_CLIENTS[project] = bigquery.Client(project=project)
        return client


class DeadLetterFailedRowsFn(beam.DoFn):
    """Rows BigQuery refused → the dead-letter topic and the ``dead_letters`` table.

    One step instead of a second ``WriteToBigQuery`` (which cannot feed back into the first):
    the dead-letter rows are few, and on the local runner every extra step costs per bundle.
    If even the dead-letter insert is refused there is nowhere left to send it: the row is
    logged in full and counted (``dead_letter_insert_refused``) — never dropped silently.
    """

    def __init__(
        self, project: str, pubsub_project: str, dataset: str, topic_prefix: str = ""
    ) -> None:
        self.project = project
        self.pubsub_project = pubsub_project
        self.dataset = dataset
        self.topic_prefix = topic_prefix
        self.counters = _Counters()

    def setup(self) -> None:
        self._publisher = _shared_publisher()
        self._table = f"{self.project}.{self.dataset}.{catalog.DEAD_LETTER_TABLE}"

    def start_bundle(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._futures: list[Any] = []

    def process(self, failed: Any) -> None:
        row = failed_row_to_dead_letter(failed)
        topic, data, attrs = records.dead_letter_message(row)
        path = self._publisher.topic_path(self.pubsub_project, self.topic_prefix + topic)
        self._futures.append(self._publisher.publish(path, data, **attrs))
        self._rows.append(row)
        self.counters.inc("dead_letter_bigquery_rows")

    def finish_bundle(self) -> None:
        rows, self._rows = self._rows, []
        futures, self._futures = self._futures, []
        for future in futures:
            future.result(timeout=120)
        if not rows:
            return
        ids = [f"{r.get('frame_id')}:{r.get('destination')}:bigquery" for r in rows]
        errors = _shared_bigquery(self.project).insert_rows_json(self._table, rows, row_ids=ids)
        for error in errors:
            self.counters.inc("dead_letter_insert_refused")
            _log.error(
                "dead-letter row refused by BigQuery: %s; row: %s", error, rows[error["index"]]
            )
