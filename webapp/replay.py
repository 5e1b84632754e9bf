"""What a (re)connecting client gets before live events: the ``Last-Event-ID`` decision.

Pure function of the id the client sent, this instance's epoch and the ring's bounds, so every
case is unit-tested without a server.  Outcomes:

* no id: live events only;
* an id inside the ring (or the newest one): replay exactly the events after it, no gap;
* an id older than the ring: replay the whole ring and report a gap of ``missed`` events;
* an id from another epoch (restart, other instance) or from the future: replay nothing we
  can vouch for, report the gap as ``unknown``; the client should refetch its state.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.events import EventId

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

    def as_dict(self) -> dict:
        return {
            "reason": self.reason,
            "last_event_id": self.last_event_id,
            "missed": self.missed,
            "oldest_available": self.oldest_available,
        }


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """Start streaming after sequence number ``after``; tell the client about ``gap`` first."""

    after: int
    gap: Gap | None = None


def plan_replay(last_event_id: str | None, epoch: str, oldest: int, head: int) -> ReplayPlan:
    """Decide the replay for ``last_event_id`` given the ring holds ``oldest..head``."""
    if not last_event_id:
        return ReplayPlan(after=head)
    oldest_id = f"{epoch}-{oldest}" if oldest <= head else None
    parsed = EventId.parse(last_event_id)
    if parsed is None or parsed.epoch != epoch or parsed.seq > head:
        reason = "unknown-id" if parsed is None or parsed.epoch == epoch else "other-instance"
        return ReplayPlan(after=head, gap=Gap(reason, last_event_id, None, oldest_id))
    if parsed.seq >= oldest - 1:
        return ReplayPlan(after=parsed.seq)
    missed = oldest - 1 - parsed.seq
    return ReplayPlan(after=oldest - 1, gap=Gap("expired", last_event_id, missed, oldest_id))
