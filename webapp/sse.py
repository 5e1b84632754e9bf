"""Server-Sent Events framing (the ``text/event-stream`` wire format), with no I/O.

Follows the WHATWG HTML "Server-sent events" section: a frame is ``field: value`` lines ended
by a blank line; ``data`` may span lines (one ``data:`` line each); lines starting with ``:``
are comments (our heartbeats).  :class:`Parser` is the inverse, used by the tests, the
benchmark and anything else that needs to read a stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "HEADERS",
    "Message",
    "Parser",
    "comment",
    "event_frame",
    "retry_frame",
]

HEADERS: dict[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    # no-transform: proxies must not compress/buffer; X-Accel-Buffering: nginx and friends.
    "Cache-Control": "no-cache, no-store, no-transform",
    "X-Accel-Buffering": "no",
    "X-Content-Type-Options": "nosniff",
}
"""Response headers of every stream; they stop proxies from buffering or caching it."""


def _clean(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"SSE {what} must be a single line, got {value!r}")
    return value


def event_frame(event_id: str, event: str, data: bytes | str) -> bytes:
    """One event: ``id``, ``event`` and ``data`` (multi-line data becomes several lines)."""
    text = data.decode() if isinstance(data, bytes) else data
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = [f"id: {_clean(event_id, 'id')}", f"event: {_clean(event, 'event name')}"]
    out.extend(f"data: {line}" for line in lines)
    return ("\n".join(out) + "\n\n").encode()


def comment(text: str = "") -> bytes:
    """A comment line (ignored by EventSource; keeps proxies and idle timers from closing)."""
    return f": {_clean(text, 'comment')}\n\n".encode()


def retry_frame(milliseconds: int) -> bytes:
    """Tell the browser how long to wait before reconnecting."""
    return f"retry: {int(milliseconds)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Message:
    """One dispatched event as a browser would see it (``event`` defaults to ``message``)."""

    id: str | None
    event: str
    data: str
    retry: int | None = None

    def json(self) -> object:
        return json.loads(self.data)


class Parser:
    """Incremental ``text/event-stream`` parser: feed bytes, get :class:`Message` objects.

    Comments are counted in ``comments`` (so tests can see heartbeats); a frame with only a
    ``retry`` field is reported with ``event='retry'``-less semantics: it sets ``retry``.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._fields: dict[str, list[str]] = {}
        self.comments: list[str] = []
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> Iterator[Message]:
        self._buffer += chunk
        while True:
            line, sep, rest = self._buffer.partition(b"\n")
            if not sep:
                return
            self._buffer = rest
            text = line.decode().rstrip("\r")
            if text == "":
                message = self._dispatch()
                if message is not None:
                    yield message
                continue
            if text.startswith(":"):
                self.comments.append(text[1:].strip())
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "retry" and value.isdigit():
                self.retry = int(value)
            else:
                self._fields.setdefault(name, []).append(value)

    def _dispatch(self) -> Message | None:
        fields, self._fields = self._fields, {}
        if "data" not in fields:
            return None
        return Message(
            id=fields.get("id", [None])[-1],
            event=fields.get("event", ["message"])[-1],
            data="\n".join(fields["data"]),
            retry=self.retry,
        )
