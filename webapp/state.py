"""The present: the latest message about every entity, ready to serve as ``GET /state``.

One entry per (stream, entity) — a pool's total, a product's status, a race's status and result,
a pool's dividends, a selection's and a runner's status, a bet's lifecycle — where the entity is
the message type's catalog ``key_columns``.  Ordered by ``as_of`` (else ``received_at``), then
by event id: an older message never replaces a newer one, whatever order they arrive in.

Each entry keeps its ``/state`` item pre-encoded (``{"id","stream","data"}``), and entries are
kept in the order their messages were released (an update moves its entity to the end), so
answering ``/state`` for a whole race day is a filter and a join of bytes — no JSON encoding of
thousands of objects, no sort — and the unfiltered answer is cached until the state changes.  When reference data about an entity arrives later (its race, its name),
the entries it names are re-enriched through the index by id, so ``/state`` is always named
with the newest reference data.  Plain data, no I/O: the bus calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webapp import access
from webapp.events import REFERENCE_STREAM, Event, EventKey, Incoming, make_event

__all__ = ["PRIVATE_STREAMS", "BoardState", "Entry"]

PRIVATE_STREAMS = access.PRIVATE_STREAMS
"""Streams ``/state`` leaves out unless the caller is authorised for them (bets)."""

_INDEXED = ("product_id", "event_id", "selection_id", "competitor_id")


@dataclass(slots=True)
class Entry:
    incoming: Incoming
    event: Event
    item: bytes
    order: tuple[int, EventKey]
    """``as_of`` (else ``received_at``), then the event id: which of two states is newer."""


def _item(event: Event) -> bytes:
    # The id is ASCII of a fixed form and the stream a catalog name: nothing to escape.
    return f'{{"id":"{event.id}","stream":"{event.stream}","data":'.encode() + event.body + b"}"


class BoardState:
    """Latest entry per (stream, entity); re-enriched when reference data arrives."""

    def __init__(self, context: Callable[[Mapping[str, str]], dict[str, Any] | None]) -> None:
        self._context = context
        self._entries: dict[tuple[str, tuple[str, ...]], Entry] = {}
        self._index: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = {}
        self.version = 0
        """Bumped by every change; the cached unfiltered answers are valid for one version."""
        self._joined: dict[bool, tuple[int, bytes, int]] = {}
        self.stale_ignored = 0
        """Messages older than the state they would have replaced (counted, not applied)."""

    def __len__(self) -> int:
        return len(self._entries)

    def apply(self, incoming: Incoming, event: Event) -> bool:
        """Record ``event`` as its entity's state unless a newer one is known."""
        slot = (incoming.stream, incoming.entity)
        current = self._entries.get(slot)
        entry = Entry(incoming, event, _item(event), (incoming.as_of_ms, incoming.key))
        if current is not None:
            if current.order > entry.order:
                self.stale_ignored += 1
                return False
            self._unindex(slot, current)
            del self._entries[slot]  # re-inserted at the end: entries stay in release order
        self._entries[slot] = entry
        self.version += 1
        self._reindex(slot, entry)
        return True

    def _names(self, entry: Entry) -> Iterable[tuple[str, str]]:
        for name in _INDEXED:
            value = entry.event.keys.get(name)
            if value:
                yield (name, value)
        for race in entry.event.event_ids:
            yield ("event_id", race)

    def _reindex(self, slot: tuple[str, tuple[str, ...]], entry: Entry) -> None:
        for name in self._names(entry):
            self._index.setdefault(name, set()).add(slot)

    def _unindex(self, slot: tuple[str, tuple[str, ...]], entry: Entry) -> None:
        for name in self._names(entry):
            slots = self._index.get(name)
            if slots is not None:
                slots.discard(slot)
                if not slots:
                    del self._index[name]

    def reference_changed(self, kind: str, entity_id: str) -> int:
        """Re-enrich the entries that name the entity (their race, names); returns how many."""
        name = {"event": "event_id", "product": "product_id"}.get(kind, f"{kind}_id")
        value = entity_id if kind in ("event", "competitor") else entity_id.lower()
        slots = list(self._index.get((name, value), ()))
        for slot in slots:
            entry = self._entries[slot]
            if entry.incoming.stream == REFERENCE_STREAM:
                continue
            self._unindex(slot, entry)
            event = make_event(
                entry.incoming,
                entry.event.seq,
                self._context(entry.incoming.keys),
                at=entry.event.at,
            )
            entry.event = event
            entry.item = _item(event)
            self._reindex(slot, entry)
        if slots:
            self.version += 1
        return len(slots)

    def entries(
        self,
        matches: Callable[[Event], bool] | None = None,
        *,
        private: bool = False,
    ) -> list[Entry]:
        """Entries passing ``matches``, in release order; bets only when ``private``."""
        return [
            e
            for e in self._entries.values()
            if (private or e.incoming.stream not in PRIVATE_STREAMS)
            and (matches is None or matches(e.event))
        ]

    def joined(
        self, matches: Callable[[Event], bool] | None = None, *, private: bool = False
    ) -> tuple[bytes, int]:
        """The ``/state`` items as one JSON array body (without brackets) and their count."""
        if matches is None:
            cached = self._joined.get(private)
            if cached is not None and cached[0] == self.version:
                return cached[1], cached[2]
        entries = self.entries(matches, private=private)
        body = b",".join(e.item for e in entries)
        if matches is None:
            self._joined[private] = (self.version, body, len(entries))
        return body, len(entries)
