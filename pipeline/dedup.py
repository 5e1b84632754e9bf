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

State is plain dicts (frame id → time; entity key → (fingerprint, time)), changed by
:func:`record_transport` / :func:`record_semantic` and pruned by :func:`expire`.  The Beam steps
(``pipeline.transforms``) keep one such dict per *shard* of dedup keys (:func:`shard_of`) in
keyed state, with timers that prune it; :class:`TransportDeduper` and :class:`SemanticDeduper`
wrap one dict for the benchmark and the unit tests.
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
    "expire",
    "fingerprint",
    "fingerprint_text",
    "is_semantic_duplicate",
    "next_prune",
    "record_semantic",
    "record_transport",
    "shard_key",
    "shard_of",
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


def shard_of(dedup_key: str, shards: int) -> int:
    """The state shard of a dedup key: keyed steps key by shard, not by entity, so the number of
    keys (and of timers) stays fixed however many entities a race day brings."""
    return zlib.crc32(dedup_key.encode()) % shards


def is_semantic_duplicate(
    last: tuple[str, int] | None, fp: str, ts_micros: int, ttl_micros: int
) -> bool:
    """True when ``fp`` equals the last emitted fingerprint and is within the TTL of it."""
    return last is not None and last[0] == fp and abs(ts_micros - last[1]) <= ttl_micros


def record_transport(
    seen: dict[str, int], frame_id: str, ts_micros: int, window_micros: int
) -> bool:
    """True if ``frame_id`` is in ``seen`` within the window; otherwise records it (False)."""
    when = seen.get(frame_id)
    if when is not None and abs(ts_micros - when) <= window_micros:
        return True
    seen[frame_id] = ts_micros
    return False


def record_semantic(
    last: dict[str, tuple[str, int]], key: str, fp: str, ts_micros: int, ttl_micros: int
) -> bool:
    """True if ``fp`` repeats the last emission for ``key``; otherwise records it (False)."""
    if is_semantic_duplicate(last.get(key), fp, ts_micros, ttl_micros):
        return True
    last[key] = (fp, ts_micros)
    return False


PRUNE_SLACK = 10
"""State is pruned at most this many times per lifetime (window or TTL): pruning scans the whole
dict, so pruning each entry the moment it expires would cost O(n) per element."""


def next_prune(oldest_micros: int, now_micros: int, lifetime_micros: int) -> int:
    """When to prune next: when the oldest entry expires, but not sooner than a slack after now.

    Entries may outlive their lifetime by up to the slack; that costs memory only, since the
    decisions compare times themselves (:func:`record_transport`, :func:`is_semantic_duplicate`).
    """
    return max(oldest_micros + lifetime_micros, now_micros + lifetime_micros // PRUNE_SLACK)


def expire(state: dict[str, Any], now_micros: int, lifetime_micros: int) -> int | None:
    """Drop entries older than ``lifetime`` at ``now`` (in place); returns the oldest remaining
    entry's time, or ``None`` when the state is empty.  Values are a time or ``(…, time)``."""

    def when(value: Any) -> int:
        return value[1] if isinstance(value, tuple) else value

    for key in [k for k, v in state.items() if now_micros - when(v) >= lifetime_micros]:
        del state[key]
    return min((when(v) for v in state.values()), default=None) if state else None


class TransportDeduper:
    """Transport dedup over one plain dict (the Beam step keeps one such dict per shard)."""

    def __init__(self, window_micros: int) -> None:
        self.window = window_micros
        self.state: dict[str, int] = {}
        self._next_expiry: int | None = None

    def seen(self, frame_id: str, ts_micros: int) -> bool:
        """Record ``frame_id``; True if it was already seen within the window."""
        if self._next_expiry is not None and ts_micros >= self._next_expiry:
            self.expire(ts_micros)
        duplicate = record_transport(self.state, frame_id, ts_micros, self.window)
        if self._next_expiry is None:
            self._next_expiry = ts_micros + self.window
        return duplicate

    def expire(self, now_micros: int) -> None:
        oldest = expire(self.state, now_micros, self.window)
        self._next_expiry = None if oldest is None else next_prune(oldest, now_micros, self.window)

    def __len__(self) -> int:
        return len(self.state)


class SemanticDeduper:
    """Semantic dedup over one plain dict (the Beam step keeps one such dict per shard)."""

    def __init__(self, ttl_micros: int) -> None:
        self.ttl = ttl_micros
        self.state: dict[str, tuple[str, int]] = {}

    def duplicate(self, key: str, fp: str, ts_micros: int) -> bool:
        """True if ``fp`` repeats the last emission for ``key``; otherwise records it."""
        return record_semantic(self.state, key, fp, ts_micros, self.ttl)

    def expire(self, now_micros: int) -> None:
        expire(self.state, now_micros, self.ttl)

    def __len__(self) -> int:
        return len(self.state)
