"""Typed-topic and reference messages turned into SSE-ready events, and the ids they carry.

The pipeline publishes one JSON object per Tote message to each typed topic (see
``contract/catalog.py``) and one per reference entity to ``tote-reference``; here each becomes an
:class:`Incoming` (validated, stream name resolved from the catalog, filter keys extracted, its
id derived) and, once the bus releases it, an :class:`Event` whose SSE frame is encoded **once**
and shared by every client.

Event ids are derived from the data, never from the instance: ``<ms>-<frame>-<sub>`` where
``ms`` is the frame's ``received_at`` (reference: ``as_of``) in milliseconds since 1970, 13
digits; ``frame`` the connector's frame id (hashed to 16 hex digits when it is not a short
lower-case alphanumeric); ``sub`` 8 hex digits of a hash of the message type and entity key, so
the entities one frame yields get distinct ids.  So the same message has the same id on every
instance and after any restart, a redelivery or republication is recognised by its id, and ids
are totally ordered by :class:`EventKey` (time, then frame, then sub), which is what lets a
``Last-Event-ID`` resume on any instance (see ``webapp/replay.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from contract import catalog, ingress
from webapp import sse

__all__ = [
    "FILTER_KEYS",
    "ORIGIN_FRAME",
    "REFERENCE_STREAM",
    "REFERENCE_TOPIC",
    "Event",
    "EventKey",
    "Incoming",
    "MessageError",
    "encode_body",
    "make_event",
    "new_epoch",
    "parse_message",
    "stream_for_topic",
]

REFERENCE_TOPIC: str = catalog.REFERENCE_TOPIC
"""The pipeline's reference-data topic."""

REFERENCE_STREAM = "reference"
"""SSE event name of reference updates (names of races, pools, runners)."""

FILTER_KEYS: tuple[str, ...] = ("product_id", "event_id", "venue", "bet_type")
"""Keys a client may filter on (``?event_id=...&venue=...``)."""

_ID_KEYS = ("product_id", "event_id", "bet_id", "selection_id", "competitor_id")
_STREAM_BY_TOPIC = {t.name: t.stream for t in catalog.TOPICS}
_STREAM_BY_TOPIC[REFERENCE_TOPIC] = REFERENCE_STREAM
_FRAME = re.compile(r"[0-9a-z]{1,32}", re.ASCII)
_ID = re.compile(r"(\d{13})-([0-9a-z]{1,32})-([0-9a-f]{8})", re.ASCII)
MAX_ID_LENGTH = 13 + 1 + 32 + 1 + 8
ORIGIN_FRAME = "0"
"""Frame of an origin id, ``<ms>-0-00000000``: "from this time on" (no frame id is ``0``)."""


class MessageError(ValueError):
    """A message the web app cannot serve; the message says what is wrong."""


def stream_for_topic(topic: str, prefix: str = "") -> str:
    """The SSE event name of a topic (``tote-pool-total-changed`` -> ``pool-total``)."""
    name = topic.rsplit("/", 1)[-1]
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    try:
        return _STREAM_BY_TOPIC[name]
    except KeyError:
        raise MessageError(f"{topic!r} is not one of the catalog's typed topics") from None


def new_epoch(now: float | None = None) -> str:
    """A short, practically unique name for this instance's lifetime (ms since 1970, base 36).

    It names the instance (``/status``, its subscriptions), never an event.
    """
    ms = int((time.time() if now is None else now) * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while ms:
        ms, rem = divmod(ms, 36)
        out = digits[rem] + out
    return out or "0"


class EventKey(NamedTuple):
    """The total order of events: time (ms), then frame, then the entity within the frame.

    A named tuple, so comparisons (the reorder heap, ``/state``'s sort) run at C speed.
    """

    ms: int
    frame: str
    sub: str

    def __str__(self) -> str:
        return f"{self.ms:013d}-{self.frame}-{self.sub}"

    @classmethod
    def derive(cls, ms: int, frame_id: str, entity: str) -> EventKey:
        """The key of the message ``entity`` (type and key) of frame ``frame_id`` at ``ms``."""
        frame = frame_id.lower()
        if not _FRAME.fullmatch(frame) or frame == ORIGIN_FRAME:
            frame = hashlib.blake2b(frame_id.encode(), digest_size=8).hexdigest()
        sub = hashlib.blake2b(entity.encode(), digest_size=4).hexdigest()
        return cls(max(0, min(ms, 9_999_999_999_999)), frame, sub)

    @classmethod
    def origin(cls, ms: int) -> EventKey:
        """The id before every event from ``ms`` on."""
        return cls(ms, ORIGIN_FRAME, "00000000")

    @classmethod
    def parse(cls, raw: object) -> EventKey | None:
        """The key in ``raw`` (an id string), or ``None`` when it is not one; never raises.

        Strict: ASCII only, the exact form :meth:`__str__` writes, nothing around it.
        """
        if not isinstance(raw, str) or len(raw) > MAX_ID_LENGTH or not raw.isascii():
            return None
        match = _ID.fullmatch(raw)
        if match is None:
            return None
        return cls(int(match.group(1)), match.group(2), match.group(3))


@dataclass(frozen=True, slots=True)
class Incoming:
    """A validated message, not yet released by the bus."""

    stream: str
    message_type: str
    keys: Mapping[str, str]
    message: dict[str, Any]
    """The message object as published (re-encoded at release with its ``context``)."""
    key: EventKey
    as_of_ms: int
    """Which of two messages about one entity is newer (``as_of``, else ``received_at``)."""
    message_id: str = ""
    published_at: float | None = None
    id: str = ""
    """``str(key)``, computed once (the dedup set, the ring index and the frame all use it)."""
    entity: tuple[str, ...] = ()
    """What the message is about (its catalog key columns): ``/state`` keeps one per entity."""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", str(self.key))
        if not self.entity:
            object.__setattr__(self, "entity", _entity(self))

    @property
    def body(self) -> bytes:
        """The message as compact one-line JSON, without context (for tests and logs)."""
        return encode_body(self.message, None)


@dataclass(frozen=True, slots=True)
class Event:
    """An event in the bus: released, positioned (``seq``), with its SSE frame ready to write."""

    seq: int
    id: str
    key: EventKey
    stream: str
    message_type: str
    keys: Mapping[str, str]
    frame: bytes
    body: bytes
    event_ids: frozenset[str] = frozenset()
    """Every race this event is about (a multi-leg pool has several), for ``?event_id=``."""
    late: bool = False
    """Released after an event with a later key (it arrived more than the reorder delay late)."""
    at: float = field(default_factory=time.time)
    """Wall-clock time the event was released (for the buffer span in ``/status``)."""


def _entity(incoming: Incoming) -> tuple[str, ...]:
    if incoming.stream == REFERENCE_STREAM:
        return (incoming.message_type, str(incoming.message.get("id") or ""))
    spec = catalog.by_name(incoming.message_type)
    if spec is not None and spec.key_columns:
        return tuple(incoming.keys.get(k, "") for k in spec.key_columns)
    key = incoming.message.get("key")
    return (str(key) if key else str(incoming.key),)


def encode_body(message: Mapping[str, Any], context: Mapping[str, Any] | None) -> bytes:
    """One line of JSON: the message, plus ``context`` (reference names) when there is one."""
    if context:
        message = {**message, "context": dict(context)}
    try:
        return orjson.dumps(message)
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library copes
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def make_event(
    incoming: Incoming,
    seq: int,
    context: Mapping[str, Any] | None = None,
    *,
    late: bool = False,
    at: float | None = None,
) -> Event:
    """Release ``incoming`` at position ``seq`` with its reference ``context``."""
    keys = dict(incoming.keys)
    event_ids: set[str] = set()
    if context:
        for name in ("event_id", "venue", "bet_type"):
            value = context.get(name)
            if isinstance(value, str) and value and name not in keys:
                keys[name] = value
        event_ids.update(e for e in context.get("event_ids") or () if isinstance(e, str))
    if keys.get("event_id"):
        event_ids.add(keys["event_id"])
    body = encode_body(incoming.message, context)
    event_id = incoming.id
    return Event(
        seq=seq,
        id=event_id,
        key=incoming.key,
        stream=incoming.stream,
        message_type=incoming.message_type,
        keys=keys,
        frame=sse.event_frame(event_id, incoming.stream, body),
        body=body,
        event_ids=frozenset(event_ids),
        late=late,
        at=time.time() if at is None else at,
    )


def _ms(text: object) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(ingress.parse_timestamp(text).timestamp() * 1000)
    except ValueError:
        return None


def parse_message(
    data: bytes,
    attributes: Mapping[str, str],
    topic: str,
    *,
    prefix: str = "",
    message_id: str = "",
    published_at: float | None = None,
) -> Incoming:
    """Validate one typed-topic or reference message; raises :class:`MessageError` with why.

    Tolerant by design: unknown fields (``source``, ``as_of``, ...) pass through untouched, and
    the filter keys come from the attributes first and the normalised ``data`` second (ids
    lower-cased, slugs kept).  A message without ``received_at``/``frame_id`` is placed by its
    Pub/Sub publish time and its bytes, which are the same for every subscriber.
    """
    stream = stream_for_topic(topic, prefix)
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MessageError(f"data is not UTF-8 JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(message, dict):
        raise MessageError(f"data must be a JSON object, got {type(message).__name__}")
    if stream == REFERENCE_STREAM:
        return _parse_reference(message, attributes, message_id, published_at)
    message_type = message.get("message_type") or attributes.get("message_type")
    if not isinstance(message_type, str) or not message_type:
        raise MessageError("message has no message_type (neither in data nor attributes)")
    known = catalog.by_name(message_type)
    if known is not None and known.stream != stream:
        raise MessageError(
            f"{message_type} belongs on stream {known.stream!r}, not on {topic!r} ({stream!r})"
        )
    normalised = message.get("data")
    values: Mapping[str, object] = normalised if isinstance(normalised, dict) else {}
    keys: dict[str, str] = {}
    for name in _ID_KEYS:
        value = attributes.get(name) or values.get(name)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            keys[name] = value if name in ("event_id", "competitor_id") else value.lower()
    received = _ms(message.get("received_at")) or _ms(attributes.get("received_at"))
    as_of = _ms(message.get("as_of")) or _ms(attributes.get("as_of"))
    entity = message.get("key")
    if not isinstance(entity, str) or not entity:
        entity = message_type + "|" + "|".join(keys.get(k, "") for k in _ID_KEYS)
    key = _key(message, attributes, received, entity, message_id, published_at, data)
    return Incoming(
        stream, message_type, keys, message, key, as_of or key.ms, message_id, published_at
    )


_REFERENCE_KINDS: tuple[str, ...] = catalog.REFERENCE_KINDS


def _parse_reference(
    message: dict[str, Any],
    attributes: Mapping[str, str],
    message_id: str,
    published_at: float | None,
) -> Incoming:
    kind = message.get("kind") or attributes.get("kind")
    entity_id = message.get("id") or attributes.get("entity_id")
    if kind not in _REFERENCE_KINDS:
        raise MessageError(f"reference kind must be one of {', '.join(_REFERENCE_KINDS)}")
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise MessageError("reference message has no id")
    if not isinstance(message.get("values"), dict):
        raise MessageError("reference message has no values object")
    as_of = _ms(message.get("as_of")) or _ms(attributes.get("as_of"))
    if as_of is None:
        raise MessageError("reference message has no valid as_of timestamp")
    values = message["values"]
    entity_id = entity_id.strip()
    keys: dict[str, str] = {}
    event_id = values.get("event_id") or attributes.get("event_id")
    if isinstance(event_id, str) and event_id:
        keys["event_id"] = event_id
    if kind in ("product", "selection", "leg") and isinstance(values.get("product_id"), str):
        keys["product_id"] = values["product_id"].lower()
    if kind == "event":
        keys["event_id"] = entity_id
    elif kind == "product":
        keys["product_id"] = entity_id.lower()
    key = _key(message, attributes, as_of, f"reference|{kind}|{entity_id}", message_id, None, b"")
    return Incoming(REFERENCE_STREAM, kind, keys, message, key, as_of, message_id, published_at)


def _key(
    message: Mapping[str, Any],
    attributes: Mapping[str, str],
    ms: int | None,
    entity: str,
    message_id: str,
    published_at: float | None,
    data: bytes,
) -> EventKey:
    """The message's key; without ``received_at``/``frame_id`` (not the pipeline's contract, but
    nothing is dropped for it) the Pub/Sub publish time and the message's bytes stand in, which
    every subscriber sees alike (only the last resort, this instance's clock, does not)."""
    frame_id = message.get("frame_id") or attributes.get("frame_id")
    if ms is None:
        when = published_at if published_at is not None else time.time()
        ms = int(when * 1000)
    if not isinstance(frame_id, str) or not frame_id:
        frame_id = hashlib.blake2b(data, digest_size=8).hexdigest()
    return EventKey.derive(ms, frame_id, entity)
