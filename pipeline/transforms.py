"""The Beam steps of the pipeline: thin shells over the plain functions of the core.

Reading top to bottom follows the README's diagram.  ``per_key`` layout (Dataflow)::

    ParseFrames → DropTransportDuplicates ─┬─ raw, dead-letter rows + messages ─────────────┐
                                           └─ one element per typed event / reference record │
                   → DropSemanticDuplicates ─ typed + reference rows and messages ─ CollectRows /
                                                                                CollectMessages

``sharded`` layout (the local direct runner: every step costs per bundle, so no merge steps)::

    ParseFrames → DropTransportDuplicates ─ one element per semantic shard a frame touches
                → DropSemanticDuplicates ─ every row and message (raw / dead letter from the
                                           frame's first element, the carrier)

Transport dedup is keyed by the frame id, semantic dedup by the entity.  Two state layouts
(``--dedup_layout``), same decisions (``pipeline.dedup``):

* ``per_key`` (Dataflow): the key *is* the frame id / entity key, with one small value and one
  expiry timer per key, like Beam's own ``Deduplicate`` — the state read and written per element
  does not grow with the number of entities (``benchmarks/bench_dedup_state.py``).
* ``sharded`` (the local direct runner): keys are a fixed number of shards of those keys, each
  holding a dict pruned by one timer — the direct runner scans every key's timers on each step,
  so a bounded key count is what keeps it fast there.

Elements crossing the shuffles are ``(str key, Frame)`` with the versioned ``FrameCoder``.
Step labels are the Dataflow update contract: never rename one casually.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import VarIntCoder
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
from pipeline import coders, dedup, records, routing
from pipeline.core import process_frame
from pipeline.dedup import Decision
from pipeline.options import LAYOUTS
from pipeline.records import DeadLetter, Frame, ReferenceRecord, TypedEvent

__all__ = [
    "LAYOUTS",
    "NAMESPACE",
    "DeadLetterFailedRowsFn",
    "ParseFrameFn",
    "PerKeySemanticDedupFn",
    "PerKeyTransportDedupFn",
    "ProcessFrames",
    "ProcessedFrames",
    "PublishFn",
    "ShardedSemanticDedupFn",
    "ShardedTransportDedupFn",
    "failed_row_to_dead_letter",
    "table_for_row",
]

NAMESPACE = "tote"
"""Beam metrics namespace (Dataflow shows counters as tote/<name>)."""

ROWS = "rows"
MESSAGES = "messages"

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


class _Keyer:
    """A dedup step's key for a frame id or entity key: itself (per-key layout) or its shard."""

    def __init__(self, shards: int | None) -> None:
        self.shards = shards

    def __call__(self, key: str) -> str:
        return key if self.shards is None else dedup.shard_of(key, self.shards)


class ParseFrameFn(beam.DoFn):
    """Pub/Sub message → ``(transport key, Frame)``; never fails on bad input (``process_frame``).

    The transport key derives from the frame id only, never the content: a redelivery with
    corrupted bytes must meet its original in the same state.
    """

    def __init__(self, shards: int | None) -> None:
        self.key = _Keyer(shards)
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
        yield self.key(frame.frame_id), frame


class _TransportRouting:
    """What the per-key transport layout does with a unique frame: route it
    (``routing.route_frame``): its raw / dead-letter rows and messages on outputs ``rows`` and
    ``messages``, one element per typed event or reference record keyed by its entity."""

    def _route(self, frame: Frame) -> Any:
        out = routing.route_frame(frame)
        for row in out.rows:
            yield beam.pvalue.TaggedOutput(ROWS, row)
        for message in out.messages:
            yield beam.pvalue.TaggedOutput(MESSAGES, message)
        for element in out.events:
            if element.events:
                yield element.events[0].key, element
            else:
                yield routing.reference_key(element.reference[0]), element


class PerKeyTransportDedupFn(_TransportRouting, beam.DoFn):
    """Per-key layout, keyed by frame id: drops a frame id already seen within the window.

    State per key: the first-seen time (a varint) and one timer at the end of the window that
    clears it — what Beam's ``Deduplicate`` keeps.  Unique frames are routed: raw / dead-letter
    rows and messages (outputs ``rows``, ``messages``) and one element per typed event or
    reference record keyed by its entity (main output) for semantic dedup.
    """

    SEEN = ReadModifyWriteStateSpec("seen", VarIntCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, window_s: int) -> None:
        self.window_micros = int(window_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[str, Frame],
        timestamp: Any = beam.DoFn.TimestampParam,
        seen: Any = beam.DoFn.StateParam(SEEN),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        now = timestamp.micros
        if dedup.is_transport_duplicate(seen.read(), now, self.window_micros):
            self.counters.inc("dropped_transport_duplicate")
            return
        seen.write(now)
        expire.set(Timestamp(micros=now + self.window_micros))
        yield from self._route(frame)

    @on_timer(EXPIRE)
    def expire_seen(self, seen: Any = beam.DoFn.StateParam(SEEN)) -> None:
        seen.clear()
        self.counters.inc("transport_ids_expired")


class _ShardedStateFn(beam.DoFn):
    """Sharded layout: keyed by shard, one dict of state per shard, a timer at the next expiry
    that prunes it (so memory holds one window / TTL of entries).

    Keying by a fixed number of shards rather than by entity keeps the number of keys (and of
    timers) constant; on Beam's local runner, which scans every key's timers on every step, that
    is the difference between a pipeline that keeps up and one that slows down all day.  The
    price is that every element reads and writes its shard's whole dict.
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


class ShardedTransportDedupFn(_ShardedStateFn):
    """Sharded layout of :class:`PerKeyTransportDedupFn`: keyed by a shard of frame ids.

    A single output: each unique frame becomes one element per semantic shard it touches
    (``routing.shard_elements``; one for a subscription frame), the raw and dead-letter rows
    left to the semantic step, so the local graph needs no step to merge two steps' outputs.
    """

    STATE = ReadModifyWriteStateSpec("state", coders.ShardedSeenCoder())
    NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)  # a timer spec serves one DoFn class

    def __init__(self, window_s: int, semantic_shards: int) -> None:
        self.lifetime_micros = int(window_s * 1_000_000)
        self.shards = semantic_shards
        self.counters = _Counters()

    def process(
        self,
        element: tuple[str, Frame],
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
        yield from routing.shard_elements(frame, self.shards)

    @on_timer(EXPIRE)
    def expire_seen(
        self,
        fired: Any = beam.DoFn.TimestampParam,
        state: Any = beam.DoFn.StateParam(STATE),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> None:
        self._prune(fired.micros, state, next_expiry, expire, "transport_ids_expired")


class _SemanticOutputs:
    """What both semantic layouts do with a decision: count it, emit its rows and messages."""

    counters: _Counters

    def _outputs(self, frame: Frame, event: TypedEvent, decision: Decision) -> Any:
        if decision is Decision.DUPLICATE:
            self.counters.inc("dropped_semantic_duplicate")
            self.counters.inc(f"dropped_semantic_duplicate_{event.message_type}")
        elif decision is Decision.STALE:
            self.counters.inc("stale")
            self.counters.inc(f"stale_{event.message_type}")
        else:
            self.counters.inc(f"emitted_{event.message_type}")
        rows, messages = routing.semantic_outputs(frame, event, decision)
        for row in rows:
            yield beam.pvalue.TaggedOutput(ROWS, row)
        yield from messages

    def _reference_outputs(self, frame: Frame, record: ReferenceRecord, decision: Decision) -> Any:
        if decision is Decision.DUPLICATE:
            self.counters.inc("dropped_reference_duplicate")
            self.counters.inc(f"dropped_reference_duplicate_{record.kind}")
        elif decision is Decision.STALE:
            self.counters.inc("stale_reference")
            self.counters.inc(f"stale_reference_{record.kind}")
        else:
            self.counters.inc(f"emitted_reference_{record.kind}")
        rows, messages = routing.reference_outputs(frame, record, decision)
        for row in rows:
            yield beam.pvalue.TaggedOutput(ROWS, row)
        yield from messages


class PerKeySemanticDedupFn(_SemanticOutputs, beam.DoFn):
    """Per-key layout, keyed by entity: semantic dedup and the ordering guard
    (``dedup.decide_semantic`` / ``dedup.decide_reference``) over that entity's last emitted
    state.

    Each element is one typed event or one reference record.  Emitted → typed (or reference
    history) row (output ``rows``) and topic message (main output); stale → row only;
    duplicate → nothing.  State per key: one small ``EntityState`` and a timer a TTL after the
    last emission that clears it.
    """

    LAST = ReadModifyWriteStateSpec("last", coders.EntityStateCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: int) -> None:
        self.ttl_micros = int(ttl_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[str, Frame],
        timestamp: Any = beam.DoFn.TimestampParam,
        last: Any = beam.DoFn.StateParam(LAST),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        now = timestamp.micros
        if frame.events:
            event = frame.events[0]
            decision, state = dedup.decide_semantic(last.read(), event, now, self.ttl_micros)
            outputs = self._outputs(frame, event, decision)
        else:
            record = frame.reference[0]
            decision, state = dedup.decide_reference(last.read(), record, now, self.ttl_micros)
            outputs = self._reference_outputs(frame, record, decision)
        if decision is Decision.EMIT:
            last.write(state)
            expire.set(Timestamp(micros=now + self.ttl_micros))
        yield from outputs

    @on_timer(EXPIRE)
    def expire_last(self, last: Any = beam.DoFn.StateParam(LAST)) -> None:
        last.clear()
        self.counters.inc("semantic_state_expired")


class ShardedSemanticDedupFn(_SemanticOutputs, _ShardedStateFn):
    """Sharded layout of :class:`PerKeySemanticDedupFn`: keyed by a shard of entity keys.

    Each element is a frame's part in one shard (``routing.shard_elements``): the carrier also
    writes the frame's raw row and dead letter, then every event and reference record is
    decided against the shard's dict, which is read and written once per element.
    """

    STATE = ReadModifyWriteStateSpec("state", coders.ShardedEntityStateCoder())
    NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)  # a timer spec serves one DoFn class

    def __init__(self, ttl_s: int) -> None:
        self.lifetime_micros = int(ttl_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[str, Frame],
        timestamp: Any = beam.DoFn.TimestampParam,
        state: Any = beam.DoFn.StateParam(STATE),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        if routing.is_carrier(frame):
            rows, messages = routing.frame_outputs(frame)
            for row in rows:
                yield beam.pvalue.TaggedOutput(ROWS, row)
            yield from messages
        if not (frame.events or frame.reference):
            return
        now = timestamp.micros
        entries = state.read() or {}
        changed = False
        for event in frame.events:
            decision, last = dedup.decide_semantic(
                entries.get(event.key), event, now, self.lifetime_micros
            )
            if decision is Decision.EMIT:
                entries[event.key] = last
                changed = True
            yield from self._outputs(frame, event, decision)
        for record in frame.reference:
            key = routing.reference_key(record)
            decision, last = dedup.decide_reference(
                entries.get(key), record, now, self.lifetime_micros
            )
            if decision is Decision.EMIT:
                entries[key] = last
                changed = True
            yield from self._reference_outputs(frame, record, decision)
        if changed:
            state.write(entries)
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
    """What :class:`ProcessFrames` produces: every BigQuery row (raw, typed, dead-letter,
    reference; see :func:`table_for_row`) and every Pub/Sub message ``(topic, data, attrs)``."""

    rows: beam.PCollection[dict[str, Any]]
    messages: beam.PCollection[routing.Message]


class ProcessFrames(beam.PTransform[beam.PCollection[PubsubMessage], ProcessedFrames]):
    """Pub/Sub messages → rows and messages for the sinks, both dedups applied.

    ``layout`` is ``per_key`` or ``sharded`` (see the module docstring); ``shards`` is the
    sharded layout's key count per step.
    """

    def __init__(
        self,
        transport_window_s: int,
        semantic_ttl_s: int,
        shards: int = 64,
        layout: str = "sharded",
    ) -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"unknown dedup layout {layout!r}: expected one of {LAYOUTS}")
        self.transport_window_s = transport_window_s
        self.semantic_ttl_s = semantic_ttl_s
        self.shards = shards
        self.layout = layout

    def expand(self, messages: beam.PCollection[PubsubMessage]) -> ProcessedFrames:
        shards = self.shards if self.layout == "sharded" else None
        keyed = messages | "ParseFrames" >> beam.ParDo(ParseFrameFn(shards)).with_output_types(
            tuple[str, Frame]
        )
        if shards is not None:  # local: two keyed steps, no merging step (see the docstring)
            unique = keyed | "DropTransportDuplicates" >> beam.ParDo(
                ShardedTransportDedupFn(self.transport_window_s, shards)
            ).with_input_types(tuple[str, Frame]).with_output_types(tuple[str, Frame])
            out = unique | "DropSemanticDuplicates" >> beam.ParDo(
                ShardedSemanticDedupFn(self.semantic_ttl_s)
            ).with_input_types(tuple[str, Frame]).with_outputs(ROWS, main=MESSAGES)
            return ProcessedFrames(rows=out[ROWS], messages=out[MESSAGES])
        unique = keyed | "DropTransportDuplicates" >> beam.ParDo(
            PerKeyTransportDedupFn(self.transport_window_s)
        ).with_input_types(tuple[str, Frame]).with_output_types(tuple[str, Frame]).with_outputs(
            ROWS, MESSAGES, main="events"
        )
        typed = unique.events | "DropSemanticDuplicates" >> beam.ParDo(
            PerKeySemanticDedupFn(self.semantic_ttl_s)
        ).with_input_types(tuple[str, Frame]).with_outputs(ROWS, main=MESSAGES)
        rows = (unique[ROWS], typed[ROWS]) | "CollectRows" >> beam.Flatten()
        out = (unique[MESSAGES], typed[MESSAGES]) | "CollectMessages" >> beam.Flatten()
        return ProcessedFrames(rows=rows, messages=out)


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
