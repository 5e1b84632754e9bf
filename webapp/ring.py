"""A bounded history of the most recent events, addressed by sequence number.

Sequence numbers are consecutive (the bus assigns them), so the ring is a fixed array indexed by
``seq % capacity``: append and "everything after seq N" cost O(1) and O(k), with no search.
Not thread-safe on its own: the bus holds its lock around every call.
"""

from __future__ import annotations

from webapp.events import Event

__all__ = ["RingBuffer"]


class RingBuffer:
    """The last ``capacity`` events; ``head`` is the newest sequence number (0 when empty)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("ring buffer capacity must be at least 1")
        self.capacity = capacity
        self._slots: list[Event | None] = [None] * capacity
        self.head = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def oldest(self) -> int:
        """Sequence number of the oldest event kept (``head + 1`` when empty)."""
        return self.head - self._count + 1

    def append(self, event: Event) -> None:
        if event.seq != self.head + 1:
            raise ValueError(
                f"events must be appended in order: got {event.seq}, expected {self.head + 1}"
            )
        self._slots[event.seq % self.capacity] = event
        self.head = event.seq
        self._count = min(self._count + 1, self.capacity)

    def get(self, seq: int) -> Event | None:
        if self.oldest <= seq <= self.head:
            return self._slots[seq % self.capacity]
        return None

    def after(self, seq: int, limit: int | None = None) -> list[Event]:
        """Events with a sequence number above ``seq`` that are still kept, oldest first."""
        start = max(seq + 1, self.oldest)
        stop = self.head if limit is None else min(self.head, start + limit - 1)
        slots = self._slots
        cap = self.capacity
        return [slots[s % cap] for s in range(start, stop + 1)]  # type: ignore[misc]  # kept range: no None
