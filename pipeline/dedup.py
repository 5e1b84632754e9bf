"""Deduplication decisions, free of Beam: what counts as a duplicate, and the keys and state.

Two kinds, counted separately:

* **transport duplicates** — the same ``frame_id`` again within a window: Pub/Sub redelivery,
  a connector publish retry, a replayed backlog.  The frame is dropped everywhere (not even the
  raw table gets it twice).
* **semantic duplicates** — Tote re-sending unchanged state (after a reconnect, repeated pool
  totals): a message whose content equals the last one *emitted* for the same entity within a
  TTL.  It is kept in the raw table (the ingest log) but not re-published or re-stored as typed.
  Only the last emitted content is compared, so a value that changes and changes back passes
  every time (A → B → A emits three); the TTL is measured from the last emission, so unchanged
  state re-sent after the TTL passes again (a downstream freshness signal).

The Beam shells (``pipeline.transforms``) keep the state per dedup key with timers that clear it;
:class:`TransportDeduper` and :class:`SemanticDeduper` are the same logic over plain dicts, used by
the benchmark and as executable documentation in the unit tests.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

from pipeline.records import canonical_json

__all__ = [
    "SemanticDeduper",
    "TransportDeduper",
    "entity_key",
    "fingerprint",
    "fingerprint_text",
    "is_semantic_duplicate",
    "is_transport_duplicate",
    "shard_key",
]

SHARDS = 16
"""Keys for frames without an entity (raw-only types, dead letters): bounded, never per frame."""


def fingerprint_text(text: str) -> str:
    """A short digest of a message's JSON text (as received, or ``records.canonical_json``)."""
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def fingerprint(message: dict[str, Any]) -> str:
    """A digest of a parsed message's content, independent of key order and number spelling."""
    return fingerprint_text(canonical_json(message))


def entity_key(message_type: str, key_values: Iterable[Any]) -> str:
    """``Type|id|id``: the entity whose latest state a message carries (bets: bet + type)."""
    return "|".join((message_type, *("" if v is None else str(v) for v in key_values)))


def shard_key(prefix: str, frame_id: str) -> str:
    """A bounded key for frames that have no entity, spread over :data:`SHARDS` shards."""
    return f"{prefix}|#{zlib.crc32(frame_id.encode()) % SHARDS}"


def is_transport_duplicate(seen_frame_ids: Iterable[str], frame_id: str) -> bool:
    return frame_id in seen_frame_ids


def is_semantic_duplicate(
    last: tuple[str, int] | None, fp: str, ts_micros: int, ttl_micros: int
) -> bool:
    """True when ``fp`` equals the last emitted fingerprint and is within the TTL of it."""
    return last is not None and last[0] == fp and abs(ts_micros - last[1]) <= ttl_micros


class TransportDeduper:
    """Frame ids remembered for ``window_micros`` (in element time); plain-dict state."""

    def __init__(self, window_micros: int) -> None:
        self.window = window_micros
        self._seen: dict[str, int] = {}
        self._oldest = 0

    def seen(self, frame_id: str, ts_micros: int) -> bool:
        """Record ``frame_id``; True if it was already seen within the window."""
        if ts_micros - self._oldest > self.window:
            self.expire(ts_micros)
        when = self._seen.get(frame_id)
        if when is not None and ts_micros - when <= self.window:
            return True
        self._seen[frame_id] = ts_micros
        return False

    def expire(self, now_micros: int) -> None:
        horizon = now_micros - self.window
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        self._oldest = min(self._seen.values(), default=now_micros)

    def __len__(self) -> int:
        return len(self._seen)


class SemanticDeduper:
    """Last emitted fingerprint per entity key, for ``ttl_micros``; plain-dict state."""

    def __init__(self, ttl_micros: int) -> None:
        self.ttl = ttl_micros
        self._last: dict[str, tuple[str, int]] = {}

    def duplicate(self, key: str, fp: str, ts_micros: int) -> bool:
        """True if ``fp`` repeats the last emission for ``key``; otherwise records it."""
        if is_semantic_duplicate(self._last.get(key), fp, ts_micros, self.ttl):
            return True
        self._last[key] = (fp, ts_micros)
        return False

    def expire(self, now_micros: int) -> None:
        self._last = {k: v for k, v in self._last.items() if now_micros - v[1] <= self.ttl}

    def __len__(self) -> int:
        return len(self._last)
