"""What a (re)connecting client gets before live events: the ``Last-Event-ID`` decision.

Event ids come from the data (``webapp/events.py``), and the bus releases events in id order
(after a short reorder delay), so every instance holds the same sequence.  A pure function of
the id the client sent and what this instance holds, so every case is unit-tested without a
server.  Outcomes:

* no id: live events only;
* an id this instance holds: replay exactly the events after it (same instance or another);
* an id it does not hold but whose time it covers (another instance was slightly ahead, or the
  id's event is older than the ring but the history is complete): replay from the last event
  at or before it, and skip in-order events at or before it (the client's ``floor``), so
  nothing is lost and nothing repeated;
* an id older than this instance's history (the replay window, or the ring's capacity): replay
  everything held and report a gap (``missed`` counted when known);
* an id that is not one of ours: live only, gap ``unknown-id``; the client should refetch
  ``/state``;
* an origin id (``<ms>-0-00000000``, what ``/state`` gives while nothing has been released):
  everything held, with a gap if the history does not reach back to ``ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.events import ORIGIN_FRAME, EventKey

__all__ = ["GAP_EVENT", "Gap", "ReplayPlan", "plan_replay"]

GAP_EVENT = "replay-gap"
"""SSE event name of the gap notice (sent without an ``id`` so it never moves Last-Event-ID)."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Events the client asked for but cannot get; ``missed`` is ``None`` when unknowable."""

    reason: str
    last_event_id: str
    missed: int | None
    oldest_available: str | None

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "reason": self.reason,
            "last_event_id": self.last_event_id,
            "missed": self.missed,
            "oldest_available": self.oldest_available,
        }


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """Start after position ``after``, skip in-order events with keys ``<= floor``; ``gap`` first."""

    after: int
    floor: EventKey | None = None
    gap: Gap | None = None


def plan_replay(
    last_event_id: str | None,
    *,
    found: int | None,
    at_or_before: int | None,
    oldest: int,
    head: int,
    covered: bool,
    oldest_id: str | None,
) -> ReplayPlan:
    """Decide the replay for ``last_event_id``.

    ``found``: the position of that id in the ring, if held.  ``at_or_before``: the position
    of the newest in-order event with a key at or before it (``None`` if none is held).
    ``oldest..head``: the positions a client may replay (the ring, capped at the client queue).
    ``covered``: this instance has every event after that key (its history reaches back to it).
    """
    if not last_event_id:
        return ReplayPlan(after=head)
    key = EventKey.parse(last_event_id)
    if key is None:
        return ReplayPlan(after=head, gap=Gap("unknown-id", last_event_id, None, oldest_id))
    if key.frame == ORIGIN_FRAME:  # "everything from this time on" (/state of an empty bus)
        gap = None if covered else Gap("expired", last_event_id, None, oldest_id)
        return ReplayPlan(after=oldest - 1, gap=gap)
    if found is not None and found >= oldest - 1:
        return ReplayPlan(after=found)
    if found is not None:  # held, but further back than a client may replay
        missed = oldest - 1 - found
        return ReplayPlan(after=oldest - 1, gap=Gap("expired", last_event_id, missed, oldest_id))
    if at_or_before is not None and at_or_before >= oldest - 1:
        return ReplayPlan(after=at_or_before, floor=key)
    if at_or_before is not None:
        missed = oldest - 1 - at_or_before
        return ReplayPlan(
            after=oldest - 1, floor=key, gap=Gap("expired", last_event_id, missed, oldest_id)
        )
    if covered:
        return ReplayPlan(after=oldest - 1, floor=key)
    return ReplayPlan(
        after=oldest - 1, floor=key, gap=Gap("expired", last_event_id, None, oldest_id)
    )
