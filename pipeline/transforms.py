"""The Beam steps of the pipeline: thin shells over the plain functions of the core.

Reading top to bottom follows the README's diagram::

    ParseFrames → DropTransportDuplicates → RouteFrames ─┬─ raw rows ────────────────┐
                                                         ├─ dead-letter rows ────────┤→ BigQuery
                                                         └─ DropSemanticDuplicates ──┤
                                                              typed rows / messages ─┴→ Pub/Sub

Both deduplication steps are keyed by the frame's dedup key (the entity for typed messages, a
bounded shard otherwise), so the number of keys — and the state — is bounded by the entities in
play rather than by frames; timers clear the state when the window/TTL has passed.  That also
matters locally: Beam's direct runner scans every key's timers on each step, and costs grow with
the number of keys.

Step labels are the Dataflow update contract: never rename one casually.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder, TupleCoder, VarIntCoder
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Timestamp

from pipeline import catalog, ingress, records
from pipeline.core import process_frame
from pipeline.dedup import is_semantic_duplicate, is_transport_duplicate
from pipeline.records import DeadLetter, Frame

__all__ = [
    "NAMESPACE",
    "ParseFrameFn",
    "ProcessFrames",
    "ProcessedFrames",
    "PublishFn",
    "RouteFrameFn",
    "SemanticDedupFn",
    "TransportDedupFn",
    "failed_row_to_dead_letter",
    "table_for_row",
]

NAMESPACE = "tote"
"""Beam metrics namespace (Dataflow shows counters as tote/<name>)."""

_log = logging.getLogger(__name__)
_SEEN_CODER = TupleCoder([StrUtf8Coder(), VarIntCoder()])


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
    """Pub/Sub message → ``(dedup_key, Frame)``; never fails on bad input (see ``process_frame``)."""

    def __init__(self) -> None:
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
        yield frame.dedup_key, frame


class TransportDedupFn(beam.DoFn):
    """Drops a frame whose ``frame_id`` was already seen for its key within the window.

    State: the ``(frame_id, time)`` pairs of the window, pruned by a timer set at the oldest
    entry's expiry, so a hot key (a pool updating all day) holds one window's worth of ids.
    """

    SEEN = BagStateSpec("seen", _SEEN_CODER)
    NEXT_EXPIRY = ReadModifyWriteStateSpec("next_expiry", VarIntCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, window_s: int) -> None:
        self.window_micros = int(window_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[str, Frame],
        timestamp: Timestamp = beam.DoFn.TimestampParam,
        seen: Any = beam.DoFn.StateParam(SEEN),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        if is_transport_duplicate((fid for fid, _ in seen.read()), frame.frame_id):
            self.counters.inc("dropped_transport_duplicate")
            return
        now = timestamp.micros
        seen.add((frame.frame_id, now))
        if next_expiry.read() is None:
            next_expiry.write(now + self.window_micros)
            expire.set(Timestamp(micros=now + self.window_micros))
        yield element

    @on_timer(EXPIRE)
    def expire_seen(
        self,
        fired: Timestamp = beam.DoFn.TimestampParam,
        seen: Any = beam.DoFn.StateParam(SEEN),
        next_expiry: Any = beam.DoFn.StateParam(NEXT_EXPIRY),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> None:
        horizon = fired.micros - self.window_micros
        entries = list(seen.read())
        keep = [(fid, t) for fid, t in entries if t > horizon]
        self.counters.inc("transport_ids_expired", len(entries) - len(keep))
        seen.clear()
        next_expiry.clear()
        for entry in keep:
            seen.add(entry)
        if keep:
            nxt = min(t for _, t in keep) + self.window_micros
            next_expiry.write(nxt)
            expire.set(Timestamp(micros=nxt))


class RouteFrameFn(beam.DoFn):
    """Every unique frame → a raw row; dead letters → dead-letter rows; typed → onwards."""

    RAW = "raw"
    DEAD = "dead"

    def process(self, element: tuple[str, Frame]) -> Any:
        key, frame = element
        yield beam.pvalue.TaggedOutput(self.RAW, records.raw_row(frame))
        if frame.dead_letter is not None:
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                records.dead_letter_row(
                    frame.data,
                    frame.attributes,
                    frame.dead_letter,
                    failed_at=frame.ingested_at,
                    frame_id=frame.frame_id,
                    received_at=frame.received_at,
                    message_type=frame.message_type,
                ),
            )
        elif frame.event is not None:
            yield key, frame


class SemanticDedupFn(beam.DoFn):
    """Drops a typed event whose content equals the last one emitted for its entity within the TTL."""

    LAST = ReadModifyWriteStateSpec("last", _SEEN_CODER)
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: int) -> None:
        self.ttl_micros = int(ttl_s * 1_000_000)
        self.counters = _Counters()

    def process(
        self,
        element: tuple[str, Frame],
        timestamp: Timestamp = beam.DoFn.TimestampParam,
        last: Any = beam.DoFn.StateParam(LAST),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> Any:
        _, frame = element
        event = frame.event
        assert event is not None
        now = timestamp.micros
        if is_semantic_duplicate(last.read(), event.fingerprint, now, self.ttl_micros):
            self.counters.inc("dropped_semantic_duplicate")
            self.counters.inc(f"dropped_semantic_duplicate_{event.message_type}")
            return
        last.write((event.fingerprint, now))
        expire.set(Timestamp(micros=now + self.ttl_micros))
        self.counters.inc(f"emitted_{event.message_type}")
        yield frame

    @on_timer(EXPIRE)
    def expire_last(
        self,
        fired: Timestamp = beam.DoFn.TimestampParam,
        last: Any = beam.DoFn.StateParam(LAST),
        expire: Any = beam.DoFn.TimerParam(EXPIRE),
    ) -> None:
        current = last.read()
        if current is None:
            return
        due = current[1] + self.ttl_micros
        if fired.micros >= due:
            last.clear()
            self.counters.inc("semantic_state_expired")
        else:  # an out-of-order element moved the timer earlier than the latest emission
            expire.set(Timestamp(micros=due))


class ProcessedFrames(NamedTuple):
    raw_rows: beam.PCollection
    typed_frames: beam.PCollection
    dead_letter_rows: beam.PCollection


class ProcessFrames(beam.PTransform):
    """Pub/Sub messages → raw rows, typed frames (both dedups applied) and dead-letter rows."""

    def __init__(self, transport_window_s: int, semantic_ttl_s: int) -> None:
        super().__init__()
        self.transport_window_s = transport_window_s
        self.semantic_ttl_s = semantic_ttl_s

    def expand(self, messages: beam.PCollection) -> ProcessedFrames:  # type: ignore[override]
        keyed = messages | "ParseFrames" >> beam.ParDo(ParseFrameFn()).with_output_types(
            tuple[str, Frame]
        )
        unique = keyed | "DropTransportDuplicates" >> beam.ParDo(
            TransportDedupFn(self.transport_window_s)
        ).with_input_types(tuple[str, Frame]).with_output_types(tuple[str, Frame])
        routed = unique | "RouteFrames" >> beam.ParDo(RouteFrameFn()).with_outputs(
            RouteFrameFn.RAW, RouteFrameFn.DEAD, main="typed"
        )
        # Tagged outputs carry no type; the keyed step needs one for a deterministic key coder.
        routed.typed.element_type = beam.typehints.Tuple[str, Frame]
        typed = routed.typed | "DropSemanticDuplicates" >> beam.ParDo(
            SemanticDedupFn(self.semantic_ttl_s)
        ).with_input_types(tuple[str, Frame])
        return ProcessedFrames(routed[RouteFrameFn.RAW], typed, routed[RouteFrameFn.DEAD])


def table_for_row(row: dict[str, Any]) -> str:
    """Which table a row built by ``pipeline.records`` belongs to (one BigQuery sink for all)."""
    if "stage" in row:
        return catalog.DEAD_LETTER_TABLE
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


class PublishFn(beam.DoFn):
    """Publishes ``(topic, data, attributes)`` through one batching publisher per worker.

    Publishes are asynchronous; ``finish_bundle`` waits for every future, so a failed publish
    fails the bundle and the runner retries it (at-least-once; subscribers dedup by frame_id).
    One DoFn for all topics instead of one sink per topic keeps the graph small.
    """

    def __init__(self, project: str, topic_prefix: str = "") -> None:
        self.project = project
        self.topic_prefix = topic_prefix
        self.counters = _Counters()
        self._client: Any = None

    def setup(self) -> None:
        from google.cloud import pubsub_v1

        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(
                max_messages=500, max_bytes=5_000_000, max_latency=0.005
            )
        )
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

    def teardown(self) -> None:
        if self._client is not None:
            self._client.stop()
