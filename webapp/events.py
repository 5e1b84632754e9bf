"""Typed-topic messages turned into SSE-ready events, and the ids those events carry.

The pipeline publishes one JSON object per Tote message to each typed topic (see
``contract/catalog.py``); here it becomes an :class:`Incoming` (validated, stream name resolved
from the catalog, filter keys extracted) and, once the bus gives it a sequence number, an
:class:`Event` whose SSE frame is encoded **once** and shared by every client.

Event ids are ``<epoch>-<seq>``: ``epoch`` names this instance's lifetime (its start time in
base 36) and ``seq`` counts up from 1, so ids are unique and monotonic within an instance.  A
``Last-Event-ID`` from another epoch (a restart, or another instance behind the load balancer)
cannot be replayed, and the client is told so instead of being silently given a wrong window.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract import catalog
from webapp import sse

__all__ = [
    "FILTER_KEYS",
    "Event",
    "EventId",
    "Incoming",
    "MessageError",
    "new_epoch",
    "parse_message",
    "stream_for_topic",
]

FILTER_KEYS: tuple[str, ...] = ("product_id", "event_id")
"""Keys a client may filter on (``?product_id=...&event_id=...``)."""

_ID_KEYS = ("product_id", "event_id", "bet_id", "selection_id", "competitor_id")
_STREAM_BY_TOPIC = {t.name: t.stream for t in catalog.TOPICS}
_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
_ASCII_ALNUM = re.compile(r"[0-9A-Za-z]+")


class MessageError(ValueError):
    """A typed-topic message the web app cannot serve; the message says what is wrong."""


def stream_for_topic(topic: str, prefix: str = "") -> str:
    """The SSE event name of a typed topic (``tote-pool-total-changed`` -> ``pool-total``)."""
    name = topic.rsplit("/", 1)[-1]
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    try:
        return _STREAM_BY_TOPIC[name]
    except KeyError:
        raise MessageError(f"{topic!r} is not one of the catalog's typed topics") from None


def new_epoch(now: float | None = None) -> str:
    """A short, practically unique name for this instance's lifetime (ms since 1970, base 36)."""
    ms = int((time.time() if now is None else now) * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while ms:
        ms, rem = divmod(ms, 36)
        out = digits[rem] + out
    return out or "0"


@dataclass(frozen=True, slots=True)
class EventId:
    """``<epoch>-<seq>``; parse with :meth:`parse`, which never raises."""

    epoch: str
    seq: int

    def __str__(self) -> str:
        return f"{self.epoch}-{self.seq}"

    @classmethod
    def parse(cls, raw: str | None) -> EventId | None:
        """The id in ``raw``, or ``None`` when it is absent or not of this app's form."""
        if not raw:
            return None
        epoch, sep, seq = raw.strip().rpartition("-")
        # ASCII only: str.isdigit()/isalnum() accept "²" or "٣", which int() then rejects.
        if not sep or not _ASCII_DIGITS.fullmatch(seq) or not _ASCII_ALNUM.fullmatch(epoch):
            return None
        return cls(epoch, int(seq))


@dataclass(frozen=True, slots=True)
class Incoming:
    """A validated typed-topic message, not yet numbered."""

    stream: str
    message_type: str
    keys: Mapping[str, str]
    body: bytes
    """The message re-encoded as compact one-line JSON (the SSE ``data:``)."""
    message_id: str = ""
    published_at: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An event in the bus: numbered, with its SSE frame ready to write."""

    seq: int
    id: str
    stream: str
    message_type: str
    keys: Mapping[str, str]
    frame: bytes
    at: float = field(default_factory=time.time)
    """Wall-clock time the event entered the bus (for the buffer span in ``/status``)."""

    @classmethod
    def number(cls, incoming: Incoming, epoch: str, seq: int, at: float | None = None) -> Event:
        event_id = f"{epoch}-{seq}"
        return cls(
            seq=seq,
            id=event_id,
            stream=incoming.stream,
            message_type=incoming.message_type,
            keys=incoming.keys,
            frame=sse.event_frame(event_id, incoming.stream, incoming.body),
            at=time.time() if at is None else at,
        )


def parse_message(
    data: bytes,
    attributes: Mapping[str, str],
    topic: str,
    *,
    prefix: str = "",
    message_id: str = "",
    published_at: float | None = None,
) -> Incoming:
    """Validate one typed-topic message; raises :class:`MessageError` with the reason.

    Tolerant by design: unknown fields pass through untouched, and the filter keys come from the
    attributes first and the normalised ``data`` object second (ids lower-cased, slugs kept).
    """
    stream = stream_for_topic(topic, prefix)
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"data is not UTF-8 JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(message, dict):
        raise MessageError(f"data must be a JSON object, got {type(message).__name__}")
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
    for key in _ID_KEYS:
        value = attributes.get(key) or values.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            keys[key] = value if key in ("event_id", "competitor_id") else value.lower()
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return Incoming(stream, message_type, keys, body, message_id, published_at)
