"""Account for every frame: what was sent must be found exactly where the pipeline's rules say.

Given the frames a source sent (simulator record or connector capture) and what the system
stored and published, :func:`account` lists every discrepancy (empty = all accounted for):

* each sent frame text is in ``raw_frames`` exactly as many times as it was received;
* each raw frame that is a valid typed message is in its typed table once — unless it is a
  semantic duplicate (same entity and content as a frame of the group that *was* emitted);
* each raw frame that is invalid is in ``dead_letters`` with the stage the core assigns;
* nothing is in a typed table, on a typed topic or on the SSE stream that is not a raw frame,
  and nothing is there twice;
* the typed topics (and the SSE stream, when given) carry exactly the typed table's frames —
  except a *stale* one (the pipeline's ordering guard): a typed frame of an entity for which a
  frame received later was published is stored but may be withheld (so a dashboard never moves
  backwards when frames are processed out of order, e.g. a replayed backlog).

The expected classification comes from ``pipeline.core.process_frame`` itself, so the test checks
the running system against the same rules the unit tests pin down.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.core import process_frame


@dataclass(frozen=True)
class RawRow:
    frame_id: str
    data: str
    received_at: str | None = None  # canonical RFC 3339; needed to recognise stale frames


def account(  # noqa: C901 - one pass that classifies every frame sent; each branch is a named outcome
    sent: Iterable[str],
    raw: Iterable[RawRow],
    typed: Mapping[str, int],
    dead: Mapping[str, str],
    topics: Mapping[str, int],
    sse: Mapping[str, int] | None = None,
) -> list[str]:
    """Every way the system's outputs deviate from the rules (see the module docstring).

    ``typed``/``topics``/``sse``: frame id → how many times it was stored/published/streamed;
    ``dead``: frame id → stage.
    """
    problems: list[str] = []
    raw = list(raw)
    sent_counts = Counter(sent)
    raw_counts = Counter(r.data for r in raw)
    for text, n in sent_counts.items():
        if raw_counts[text] != n:
            problems.append(f"sent {n}x but stored raw {raw_counts[text]}x: {text[:120]}")
    for text in raw_counts.keys() - sent_counts.keys():
        problems.append(f"raw frame that was never sent: {text[:120]}")
    raw_ids = Counter(r.frame_id for r in raw)
    problems += [f"raw frame_id {fid} stored {n}x" for fid, n in raw_ids.items() if n > 1]

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    entity: dict[str, tuple[str, str | None]] = {}  # frame id → (entity key, received_at)
    for row in raw:
        frame = process_frame(
            row.data.encode(), {"frame_id": row.frame_id, "received_at": "2026-01-01T00:00:00Z"}
        )
        if frame.dead_letter is not None:
            if dead.get(row.frame_id) != frame.dead_letter.stage:
                problems.append(
                    f"{row.frame_id}: expected dead letter '{frame.dead_letter.stage}', "
                    f"found {dead.get(row.frame_id)!r}"
                )
        elif frame.event is not None:
            groups[(frame.event.key, frame.event.fingerprint)].append(row.frame_id)
            entity[row.frame_id] = (frame.event.key, row.received_at)
        elif row.frame_id in typed:
            problems.append(f"{row.frame_id}: raw-only frame found in a typed table")

    for (key, _), ids in groups.items():
        if not any(typed.get(fid) for fid in ids):
            problems.append(f"{key}: none of {ids} reached its typed table")
    typed_expected = {fid for ids in groups.values() for fid in ids}
    for fid, n in typed.items():
        if fid not in typed_expected:
            problems.append(f"typed row {fid} has no valid raw frame")
        if n > 1:
            problems.append(f"typed row {fid} stored {n}x")
    for name, seen in (("typed topic", topics), ("SSE", sse)):
        if seen is None:
            continue
        for fid, n in seen.items():
            if n > 1:
                problems.append(f"{name}: {fid} delivered {n}x")
        newest: dict[str, str] = {}  # entity key → latest received_at published
        for fid in seen:
            key, received_at = entity.get(fid, ("", None))
            if received_at and received_at > newest.get(key, ""):
                newest[key] = received_at

        missing = {fid for fid in set(typed) - set(seen) if not _stale(entity.get(fid), newest)}
        extra = set(seen) - set(typed)
        if missing:
            problems.append(
                f"{name}: {len(missing)} typed frames never delivered, e.g. {sorted(missing)[:3]}"
            )
        if extra:
            problems.append(
                f"{name}: {len(extra)} frames delivered but not stored, e.g. {sorted(extra)[:3]}"
            )
    return problems


def _stale(entity: tuple[str, str | None] | None, newest: Mapping[str, str]) -> bool:
    """True when a frame of the same entity received later than this one was published."""
    if entity is None:
        return False
    key, received_at = entity
    if not received_at:
        return False
    return received_at < newest.get(key, "")
