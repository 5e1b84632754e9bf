"""Where a unique frame's parts go, and what each semantic decision produces: plain functions the
two dedup steps of ``pipeline.transforms`` are thin shells over.

A frame that passed transport dedup is written once, whole (its raw row; a dead letter's row
and message), and its typed events and reference records are deduplicated per entity:

* per-key layout (Dataflow): each event and each reference record leaves the frame as its own
  element keyed by its entity (:func:`route_frame`), so semantic dedup touches one entity's
  state per element however many a query page carries;
* sharded layout (the local direct runner): one element per semantic *shard* the frame touches
  (:func:`shard_elements`) — a subscription frame is a single element, the frame itself — and
  the raw and dead-letter outputs ride along on the first (the *carrier*), so the local graph
  needs no extra steps to merge outputs: on that runner each step costs per bundle.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from pipeline import dedup, records
from pipeline.dedup import Decision
from pipeline.records import Frame, ReferenceRecord, TypedEvent

_DUPLICATE = Decision.DUPLICATE
_STALE = Decision.STALE
"""Enum members as module constants: the per-element paths compare against them."""

__all__ = [
    "PART",
    "FrameOutputs",
    "event_element",
    "frame_outputs",
    "is_carrier",
    "reference_element",
    "reference_key",
    "reference_outputs",
    "route_frame",
    "semantic_outputs",
    "shard_elements",
]

PART = "#part"
"""``dedup_key`` of a sharded-layout element that is not its frame's carrier (its raw row and
dead letter were written with another element of the same frame)."""

Message = tuple[str, bytes, dict[str, str]]


class FrameOutputs(NamedTuple):
    """What a unique frame yields before semantic dedup."""

    rows: list[dict[str, Any]]
    messages: list[Message]
    events: list[Frame]  # one element per typed event / reference record (per-key layout)


def event_element(frame: Frame, event: TypedEvent) -> Frame:
    """The element semantic dedup receives for one event: the frame's metadata (id, times,
    attributes — what the typed row and message need) with that event only.  The raw bytes and
    reference records stay behind: they were written with the raw row."""
    return dataclasses.replace(frame, data=b"", events=[event], reference=[])


def reference_element(frame: Frame, record: ReferenceRecord) -> Frame:
    """The element semantic dedup receives for one reference record (per-key layout)."""
    return dataclasses.replace(frame, data=b"", events=[], reference=[record])


def reference_key(record: ReferenceRecord) -> str:
    """``ref|kind|id``: the reference entity whose last emitted values a record is compared with
    (never equal to a typed entity key, which starts with its message type)."""
    return f"ref|{record.kind}|{record.entity_id}"


def frame_outputs(frame: Frame) -> tuple[list[dict[str, Any]], list[Message]]:
    """What a unique frame writes once, whole: its raw row; a dead letter's row and message."""
    rows = [records.raw_row(frame)]
    if frame.dead_letter is None:
        return rows, []
    row = records.frame_dead_letter_row(frame)
    rows.append(row)
    return rows, [records.dead_letter_message(row)]


def route_frame(frame: Frame) -> FrameOutputs:
    """Per-key layout: every unique frame → its raw row; a dead letter → its row and message;
    typed events and reference records → one element each (:func:`event_element`,
    :func:`reference_element`) for semantic dedup."""
    rows, messages = frame_outputs(frame)
    if frame.dead_letter is not None:
        return FrameOutputs(rows, messages, [])
    elements = [event_element(frame, e) for e in frame.events]
    elements.extend(reference_element(frame, r) for r in frame.reference)
    return FrameOutputs(rows, messages, elements)


def is_carrier(element: Frame) -> bool:
    """Whether a sharded-layout element writes its frame's raw row and dead letter (the first of
    its frame's elements: :func:`shard_elements`)."""
    return element.dedup_key != PART


def shard_elements(frame: Frame, shards: int) -> list[tuple[str, Frame]]:
    """Sharded layout: a unique frame → ``(shard, element)`` per semantic shard it touches, each
    element carrying that shard's events and reference records.  The first is the carrier (the
    frame's data, attributes and dead letter: :func:`frame_outputs`); the others are marked
    :data:`PART`.  A frame with one event, or none, is one element: the frame itself."""
    events, reference = frame.events, frame.reference
    if frame.dead_letter is not None or not (events or reference):
        return [(dedup.shard_of(frame.frame_id, shards), frame)]
    if len(events) == 1 and not reference:
        return [(dedup.shard_of(events[0].key, shards), frame)]
    groups: dict[str, tuple[list[TypedEvent], list[ReferenceRecord]]] = {}
    for event in events:
        groups.setdefault(dedup.shard_of(event.key, shards), ([], []))[0].append(event)
    for record in reference:
        groups.setdefault(dedup.shard_of(reference_key(record), shards), ([], []))[1].append(record)
    out: list[tuple[str, Frame]] = []
    for shard, (shard_events, shard_reference) in groups.items():
        if out:
            element = dataclasses.replace(
                frame, data=b"", events=shard_events, reference=shard_reference, dedup_key=PART
            )
        else:
            element = dataclasses.replace(frame, events=shard_events, reference=shard_reference)
        out.append((shard, element))
    return out


def semantic_outputs(
    frame: Frame, event: TypedEvent, decision: Decision
) -> tuple[list[dict[str, Any]], list[Message]]:
    """Rows and messages of one event: emitted → typed row + typed message; stale → typed row
    only (history, but not published: a dashboard never moves backwards); duplicate → nothing
    (the raw row already records it)."""
    if decision is _DUPLICATE:
        return [], []
    row = records.typed_row(frame, event)
    if decision is _STALE:
        return [row], []
    return [row], [records.typed_message(frame, event)]


def reference_outputs(
    frame: Frame, record: ReferenceRecord, decision: Decision
) -> tuple[list[dict[str, Any]], list[Message]]:
    """Rows and messages of one reference record, like :func:`semantic_outputs`: emitted (its
    values changed, or the TTL passed) → history row + ``tote-reference`` message; stale → row
    only; duplicate (unchanged values re-sent by a sweep) → nothing."""
    if decision is _DUPLICATE:
        return [], []
    row = records.reference_row(frame, record)
    if decision is _STALE:
        return [row], []
    return [row], [records.reference_message(frame, record)]
