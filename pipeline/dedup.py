"""Deduplication decisions, free of Beam: what counts as a duplicate, the keys and the state.

Two kinds, counted separately:

* **transport duplicates** — the same ``frame_id`` again within a window: Pub/Sub redelivery,
  a connector publish retry, a replayed backlog.  Keyed by the frame id alone, never by the
  content, so a redelivery whose bytes were corrupted is still recognised; the frame is dropped
  everywhere (not even the raw table gets it twice).
* **semantic duplicates** — Tote re-sending unchanged state (after a reconnect, repeated pool
  totals, a reconciliation query page): an event whose *normalised* values equal the last state
  *emitted* for the same entity within a TTL.  It is kept in the raw table (the ingest log) but
  not re-published or re-stored as typed.  Only the last emitted state is compared, so a value
  that changes and changes back passes every time (A → B → A emits three); the TTL is measured
  from the last emission, so unchanged state re-sent after the TTL passes again (a downstream
  freshness signal).  A query page provides only some columns: only those (non-``None``) are
  compared, and an emitted page updates just those columns of the remembered state.

The **ordering guard** rides on the same state: the ``as_of`` of the last emitted state.  An
event whose ``as_of`` is strictly older (a replayed backlog, a subscription seek, a query page
whose request started before a newer streamed message) is ``STALE``: its typed row is still
written (the typed tables are history) but it is not published, so a dashboard never moves
backwards.  Equal ``as_of`` is not stale (the later arrival wins: ``as_of`` has millisecond
resolution and a query page's state is at least as new as its request start).

Layouts: the Beam steps (``pipeline.transforms``) keep this state either per key (one small
entry per frame id / entity, Dataflow) or as one dict per shard of keys (:func:`shard_of`, the
local direct runner); :class:`TransportDeduper` and :class:`SemanticDeduper` wrap one dict for
the unit tests and benchmarks.  The decisions are the same functions either way.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson

from contract import catalog, ingress
from pipeline.records import (
    ReferenceRecord,
    TypedEvent,
    _json_default,  # canonical_json_bytes's, for the inlined call
    canonical_json,
    canonical_json_bytes,
)

__all__ = [
    "Decision",
    "EntityState",
    "SemanticDeduper",
    "TransportDeduper",
    "as_of_key",
    "canonical_values",
    "decide_reference",
    "decide_semantic",
    "entity_key",
    "expire",
    "fingerprint",
    "fingerprint_text",
    "next_prune",
    "record_transport",
    "reference_fingerprint",
    "shard_key",
    "shard_of",
]

SHARDS = 16
"""Keys for frames without an entity (raw-only types, dead letters): bounded, never per frame."""


def fingerprint_text(text: str) -> str:
    """A short digest of a JSON text."""
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _canonical_decimal(value: Any) -> Any:
    """``1881.80`` / ``Decimal('1881.80')`` → ``"1881.8"``; ``100.00`` → ``"100"`` (the value
    itself when already canonical: the common case costs two membership tests)."""
    text = value if type(value) is str else str(value)
    if "E" in text or "e" in text:
        text = format(Decimal(text), "f")
    elif "." not in text or text[-1] != "0":
        return "0" if text == "-0" else text
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_NUMERIC_PLANS: dict[str, dict[str, frozenset[str] | None]] = {}


def _numeric_plan(message_type: str) -> dict[str, frozenset[str] | None]:
    """Per type, once: its NUMERIC columns (→ ``None``) and records with NUMERIC fields (→ the
    field names), from the catalog's schema: the values hold decimals as text, so only the schema
    says which strings are numbers."""
    plan = _NUMERIC_PLANS.get(message_type)
    if plan is None:
        plan = {}
        spec = catalog.by_name(message_type)
        for column in spec.columns if spec else ():
            if column.bq_type == "NUMERIC":
                plan[column.name] = None
            numeric = frozenset(f.name for f in column.fields if f.bq_type == "NUMERIC")
            if numeric:
                plan[column.name] = numeric
        _NUMERIC_PLANS[message_type] = plan
    return plan


def _canonical_records(records: list[Any], fields: frozenset[str]) -> list[Any]:
    out = records
    for i, item in enumerate(records):
        if not isinstance(item, dict):
            continue
        for field in fields:
            value = item.get(field)
            if value is None:
                continue
            canonical = _canonical_decimal(value)
            if canonical != value or type(value) is not str:
                if out is records:
                    out = list(records)
                if out[i] is item:
                    out[i] = item = dict(item)
                item[field] = canonical
    return out


def canonical_values(message_type: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every decimal in one spelling, so equal amounts compare equal (``values``
    itself when nothing needs changing)."""
    out = values
    for name, fields in _numeric_plan(message_type).items():
        value = values.get(name)
        if value is None:
            continue
        if fields is None:
            canonical = _canonical_decimal(value)
            changed = canonical != value or type(value) is not str
        elif isinstance(value, list):
            canonical = _canonical_records(value, fields)
            changed = canonical is not value
        else:
            continue
        if changed:
            if out is values:
                out = dict(values)
            out[name] = canonical
    return out


def fingerprint(message_type: str, values: dict[str, Any]) -> str:
    """The digest of an event's normalised state: independent of key order, of how Tote spelt
    the message (operation, protocol, field order) and of decimal spelling (``1881.80``)."""
    data = _dumps(values, default=_json_default, option=_SORT_KEYS)  # canonical_json_bytes
    # Fast path: only a type with NUMERIC columns can change under canonical_values, and only
    # if a string ends in "0" (trailing zeros, "-0") or has an exponent; otherwise the text is
    # already canonical.  (Same digest as fingerprint_text(canonical_json(...)), in bytes.)
    # Calls are inlined here on purpose: this runs once per typed frame.
    plan = _NUMERIC_PLANS.get(message_type)
    if plan is None:
        plan = _numeric_plan(message_type)
    if plan and (b'0"' in data or (b"E" in data and (b"E+" in data or b"E-" in data))):
        data = canonical_json_bytes(canonical_values(message_type, values))
    return _blake2b(data, digest_size=12).hexdigest()


_dumps = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS
_blake2b = hashlib.blake2b


def as_of_key(text: str | None) -> str | None:
    """``as_of`` in the contract's canonical form (fixed width, so text order is time order);
    ``None`` when absent or unreadable (such an event is never judged stale)."""
    if not text:
        return None
    try:
        return ingress.canonical_timestamp(text)
    except ValueError:
        return None


def entity_key(message_type: str, key_values: Iterable[Any]) -> str:
    """``Type|id|id``: the entity whose latest state a message carries (bets: bet + type)."""
    if type(key_values) is list and len(key_values) == 1 and type(key_values[0]) is str:
        return f"{message_type}|{key_values[0]}"  # the usual case, without a generator
    return "|".join((message_type, *("" if v is None else str(v) for v in key_values)))


def shard_key(prefix: str, frame_id: str) -> str:
    """A bounded key for frames that have no entity, spread over :data:`SHARDS` shards."""
    return f"{prefix}|#{zlib.crc32(frame_id.encode()) % SHARDS}"


def shard_of(key: str, shards: int) -> str:
    """The state shard of a key (a frame id or an entity key) for the sharded layout: the keyed
    steps then key by shard, so the number of keys (and timers) stays fixed however many
    entities a race day brings."""
    return f"#{zlib.crc32(key.encode()) % shards}"


# --- transport -----------------------------------------------------------------------------


def is_transport_duplicate(first_seen: int | None, ts_micros: int, window_micros: int) -> bool:
    """True when a frame id first seen at ``first_seen`` is seen again within the window."""
    return first_seen is not None and abs(ts_micros - first_seen) <= window_micros


def record_transport(
    seen: dict[str, int], frame_id: str, ts_micros: int, window_micros: int
) -> bool:
    """True if ``frame_id`` is in ``seen`` within the window; otherwise records it (False)."""
    if is_transport_duplicate(seen.get(frame_id), ts_micros, window_micros):
        return True
    seen[frame_id] = ts_micros
    return False


# --- semantic + ordering -------------------------------------------------------------------


class Decision(StrEnum):
    """What the semantic step does with an event."""

    EMIT = "emit"  # typed row + typed topic message; becomes the entity's last emitted state
    DUPLICATE = "duplicate"  # equal to the last emitted state: raw row only
    STALE = "stale"  # changed but older than the last emitted state: typed row, no message


# The members as plain module constants for the per-element paths: reading an attribute of an
# Enum class (``Decision.EMIT``) goes through the enum metaclass, ~10x a global lookup.
_EMIT = Decision.EMIT
_DUPLICATE = Decision.DUPLICATE
_STALE = Decision.STALE
_SOURCE_QUERY = ingress.SOURCE_QUERY


@dataclass(slots=True)
class EntityState:
    """What is remembered about an entity's last emitted state: its ``fingerprint``, its
    ``values`` (as normalised, to compare the columns a query page provides), the canonical
    ``as_of`` of the newest emitted state, and ``emitted_at``, the element time (micros) of the
    last emission, from which the TTL runs."""

    fingerprint: str
    values: dict[str, Any]
    as_of: str | None
    emitted_at: int


def _provided(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _is_duplicate(last: EntityState, event: TypedEvent) -> bool:
    if event.source != ingress.SOURCE_QUERY:
        return last.fingerprint == event.fingerprint
    # A query page: equal on every column it provides (rare enough to canonicalise here).
    provided = canonical_values(event.message_type, _provided(event.values))
    remembered = canonical_values(event.message_type, last.values)
    return all(remembered.get(name) == value for name, value in provided.items())


def decide_semantic(
    last: EntityState | None, event: TypedEvent, ts_micros: int, ttl_micros: int
) -> tuple[Decision, EntityState | None]:
    """The decision for ``event`` given its entity's state, and the state to keep afterwards
    (``last`` itself unless the event is emitted).

    Order: a duplicate of the last emitted state (within the TTL) is dropped whatever its
    ``as_of`` (a query page equal to a newer streamed state adds nothing); otherwise an event
    strictly older than the last emitted ``as_of`` is stale; otherwise it is emitted.  An
    emitted query page updates only the columns it provides (the rest stay as last emitted).
    """
    from_query = event.source == _SOURCE_QUERY
    if (
        last is not None
        and abs(ts_micros - last.emitted_at) <= ttl_micros
        # the streamed case inline (this runs once per typed event)
        and (_is_duplicate(last, event) if from_query else last.fingerprint == event.fingerprint)
    ):
        return _DUPLICATE, last
    as_of = as_of_key(event.as_of)
    if last is not None and as_of is not None and last.as_of is not None and as_of < last.as_of:
        return _STALE, last
    newest = as_of if as_of is not None else (last.as_of if last is not None else None)
    if from_query and last is not None:
        merged = {**last.values, **_provided(event.values)}
        return _EMIT, EntityState(
            fingerprint(event.message_type, merged), merged, newest, ts_micros
        )
    return _EMIT, EntityState(event.fingerprint, event.values, newest, ts_micros)


def reference_fingerprint(record: ReferenceRecord) -> str:
    """The digest of a reference record's values (sorted keys; a sweep builds them the same way
    each time, so unchanged data gives the same text)."""
    return fingerprint_text(canonical_json(record.values))


def decide_reference(
    last: EntityState | None, record: ReferenceRecord, ts_micros: int, ttl_micros: int
) -> tuple[Decision, EntityState | None]:
    """:func:`decide_semantic` for a reference record (keyed by kind and entity id): unchanged
    values within the TTL of the last emission are a duplicate; changed values strictly older
    (``as_of``) than the last emitted are stale; otherwise emitted.  Only the fingerprint and
    ``as_of`` are remembered (a record always carries all its values)."""
    digest = reference_fingerprint(record)
    if (
        last is not None
        and abs(ts_micros - last.emitted_at) <= ttl_micros
        and last.fingerprint == digest
    ):
        return _DUPLICATE, last
    as_of = as_of_key(record.as_of)
    if last is not None and as_of is not None and last.as_of is not None and as_of < last.as_of:
        return _STALE, last
    newest = as_of if as_of is not None else (last.as_of if last is not None else None)
    return _EMIT, EntityState(digest, {}, newest, ts_micros)


# --- pruning (sharded layout) --------------------------------------------------------------

PRUNE_SLACK = 10
"""Sharded state is pruned at most this many times per lifetime (window or TTL): pruning scans
the whole dict, so pruning each entry the moment it expires would cost O(n) per element."""


def next_prune(oldest_micros: int, now_micros: int, lifetime_micros: int) -> int:
    """When to prune next: when the oldest entry expires, but not sooner than a slack after now.

    Entries may outlive their lifetime by up to the slack; that costs memory only, since the
    decisions compare times themselves (:func:`is_transport_duplicate`, :func:`decide_semantic`).
    """
    return max(oldest_micros + lifetime_micros, now_micros + lifetime_micros // PRUNE_SLACK)


def _when(value: Any) -> int:
    return value.emitted_at if isinstance(value, EntityState) else value


def expire(state: dict[str, Any], now_micros: int, lifetime_micros: int) -> int | None:
    """Drop entries older than ``lifetime`` at ``now`` (in place); returns the oldest remaining
    entry's time, or ``None`` when the state is empty.  Values are a time or an
    :class:`EntityState` (its ``emitted_at``)."""
    for key in [k for k, v in state.items() if now_micros - _when(v) >= lifetime_micros]:
        del state[key]
    return min((_when(v) for v in state.values()), default=None) if state else None


class TransportDeduper:
    """Transport dedup over one plain dict (the sharded layout keeps one such dict per shard)."""

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
    """Semantic dedup and ordering guard over one plain dict (entity key → state)."""

    def __init__(self, ttl_micros: int) -> None:
        self.ttl = ttl_micros
        self.state: dict[str, EntityState] = {}

    def decide(self, event: TypedEvent, ts_micros: int) -> Decision:
        """The decision for ``event`` at element time ``ts_micros``; updates the state."""
        decision, state = decide_semantic(self.state.get(event.key), event, ts_micros, self.ttl)
        if decision is _EMIT:
            assert state is not None
            self.state[event.key] = state
        return decision

    def expire(self, now_micros: int) -> None:
        expire(self.state, now_micros, self.ttl)

    def __len__(self) -> int:
        return len(self.state)
