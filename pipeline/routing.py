"""Where a unique frame's parts go, and what each semantic decision produces: plain functions the
two dedup steps of ``pipeline.transforms`` are thin shells over.

A frame that passed transport dedup is written once, whole (its raw row; a dead letter's row
and message; a query page's reference rows and messages), and its typed events leave it one by
one: each becomes its own element keyed by its entity, so semantic dedup touches one entity's
state per element however many events a query page carries.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from pipeline import records
from pipeline.dedup import Decision
from pipeline.records import Frame, TypedEvent

__all__ = ["FrameOutputs", "event_element", "route_frame", "semantic_outputs"]

Message = tuple[str, bytes, dict[str, str]]


class FrameOutputs(NamedTuple):
    """What a unique frame yields before semantic dedup."""

    rows: list[dict[str, Any]]
    messages: list[Message]
    events: list[Frame]  # one element per typed event (see :func:`event_element`)


def event_element(frame: Frame, event: TypedEvent) -> Frame:
    """The element semantic dedup receives for one event: the frame's metadata (id, times,
    attributes — what the typed row and message need) with that event only.  The raw bytes and
    reference records stay behind: they were written with the raw row."""
    return dataclasses.replace(frame, data=b"", events=[event], reference=[])


def route_frame(frame: Frame) -> FrameOutputs:
    """Every unique frame → its raw row; a dead letter → its row and message; a query page's
    reference records → their rows and messages; typed events → per-event elements."""
    rows = [records.raw_row(frame)]
    messages: list[Message] = []
    if frame.dead_letter is not None:
        row = records.frame_dead_letter_row(frame)
        rows.append(row)
        messages.append(records.dead_letter_message(row))
        return FrameOutputs(rows, messages, [])
    for record in frame.reference:
        rows.append(records.reference_row(frame, record))
        messages.append(records.reference_message(frame, record))
    return FrameOutputs(rows, messages, [event_element(frame, e) for e in frame.events])


def semantic_outputs(
    frame: Frame, event: TypedEvent, decision: Decision
) -> tuple[list[dict[str, Any]], list[Message]]:
    """Rows and messages of one event: emitted → typed row + typed message; stale → typed row
    only (history, but not published: a dashboard never moves backwards); duplicate → nothing
    (the raw row already records it)."""
    if decision is Decision.DUPLICATE:
        return [], []
    row = records.typed_row(frame, event)
    if decision is Decision.STALE:
        return [row], []
    return [row], [records.typed_message(frame, event)]
