"""The GraphQL-over-WebSocket envelope, client side, without any I/O.

Tote's server may pick either subprotocol: the modern ``graphql-transport-ws``
(``subscribe``/``next``/``ping``/``pong``/``complete``) or Apollo's legacy ``graphql-ws``
(``start``/``data``/``ka``/``stop``/``connection_terminate``).  :class:`ClientProtocol` builds the
frames the connector sends and classifies every frame it receives into an :class:`Event`, so the
websocket shell only moves text.  It reads the envelope (``type``, ``id``) and never the business
payload: data frames are forwarded exactly as received.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from connector.subscriptions import Subscription

__all__ = [
    "FATAL_CLOSE_CODES",
    "GRAPHQL_TRANSPORT_WS",
    "GRAPHQL_WS",
    "ClientProtocol",
    "Event",
    "EventKind",
    "describe_close",
    "is_fatal_close",
]

GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
GRAPHQL_WS = "graphql-ws"

FATAL_CLOSE_CODES: dict[int, str] = {
    4400: "bad request (the server rejected a frame)",
    4401: "unauthorized (API key refused)",
    4403: "forbidden (API key refused)",
    4409: "duplicate subscription id",
    4429: "too many initialisation requests",
}
"""Close codes a retry cannot fix: reconnecting would only hammer Tote with the same mistake."""


def is_fatal_close(code: int | None) -> bool:
    return code in FATAL_CLOSE_CODES


def describe_close(code: int | None, reason: str = "") -> str:
    """A one-line description of a close for ``/status`` and the logs."""
    meaning = FATAL_CLOSE_CODES.get(code or 0) or {
        1000: "normal closure",
        1001: "going away",
        1006: "connection lost",
        1011: "server error",
        4408: "connection initialisation timeout",
    }.get(code or 0, "closed")
    text = f"close {code}: {meaning}" if code is not None else "connection lost"
    return f"{text} ({reason})" if reason else text


class EventKind(StrEnum):
    """What a received frame means to the connector."""

    ACK = "ack"  # connection_ack: subscriptions may start
    KEEPALIVE = "keepalive"  # ka: the server's keep-alive (liveness and cadence)
    PONG = "pong"  # the answer to our ping: liveness only
    PING = "ping"  # answer with ``reply``
    DATA = "data"  # forward
    ERROR = "error"  # forward; the subscription was rejected or failed
    COMPLETE = "complete"  # the server ended a subscription
    CONNECTION_ERROR = "connection_error"  # init refused: fatal
    MALFORMED = "malformed"  # not a JSON object with a type: forward so it is dead-lettered
    UNKNOWN = "unknown"  # a type this client does not know: logged, ignored


@dataclass(frozen=True, slots=True)
class Event:
    """One classified frame.  ``subscription`` is the root field when the id is known."""

    kind: EventKind
    id: str | None = None
    subscription: str | None = None
    reply: str | None = None
    detail: str = ""

    @property
    def forward(self) -> bool:
        """Whether the frame goes to the ingress topic."""
        return self.kind in (EventKind.DATA, EventKind.ERROR, EventKind.MALFORMED)


def _error_text(payload: Any) -> str:
    """The messages of an ``error`` payload (a list on one protocol, an object on the other)."""
    items = payload if isinstance(payload, list) else [payload]
    messages = []
    for item in items:
        if isinstance(item, dict) and "message" in item:
            messages.append(str(item["message"]))
        elif item is not None:
            messages.append(json.dumps(item)[:200])
    return "; ".join(messages) or "error without message"


class ClientProtocol:
    """Frames for one connection speaking ``protocol``; ids are unique within the connection."""

    def __init__(
        self,
        protocol: str,
        authorization: str,
        subscriptions: Sequence[Subscription],
        user_agent: str = "tote-realtime-connector",
    ) -> None:
        if protocol not in (GRAPHQL_TRANSPORT_WS, GRAPHQL_WS):
            raise ValueError(f"unsupported subprotocol {protocol!r}")
        self.protocol = protocol
        self._authorization = authorization
        self._user_agent = user_agent
        self.subscriptions = list(subscriptions)
        self.ids: dict[str, str] = {str(i): s.field for i, s in enumerate(self.subscriptions, 1)}
        self.acknowledged = False

    @property
    def legacy(self) -> bool:
        return self.protocol == GRAPHQL_WS

    def init_message(self) -> str:
        """``connection_init`` carrying the same authorization as the upgrade request."""
        payload = {"authorization": self._authorization, "useragent": self._user_agent}
        return json.dumps({"type": "connection_init", "payload": payload})

    def subscribe_messages(self) -> list[str]:
        """One ``subscribe`` (or legacy ``start``) per subscription, ids ``"1"``, ``"2"``, ..."""
        kind = "start" if self.legacy else "subscribe"
        return [
            json.dumps({"id": sid, "type": kind, "payload": {"query": sub.document}})
            for sid, sub in zip(self.ids, self.subscriptions, strict=True)
        ]

    def ping_message(self) -> str | None:
        """Our own keep-alive probe (graphql-transport-ws only; the server must ``pong``)."""
        return None if self.legacy else '{"type":"ping"}'

    def stop_messages(self) -> list[str]:
        """What to send before closing on purpose: end each subscription (and terminate)."""
        kind = "stop" if self.legacy else "complete"
        frames = [json.dumps({"id": sid, "type": kind}) for sid in self.ids]
        if self.legacy:
            frames.append(json.dumps({"type": "connection_terminate"}))
        return frames

    def receive(self, text: str | bytes) -> Event:  # noqa: C901 - one branch per message type of both subprotocols
        """Classify one received frame."""
        try:
            frame = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            return Event(EventKind.MALFORMED, detail=f"not JSON: {exc}")
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            return Event(EventKind.MALFORMED, detail="not a JSON object with a string 'type'")
        kind = frame["type"]
        fid = frame.get("id")
        sid = str(fid) if fid is not None else None
        field = self.ids.get(sid) if sid is not None else None
        if kind in ("next", "data"):
            if sid is None:
                return Event(EventKind.MALFORMED, detail=f"{kind} frame without an id")
            detail = "" if field else f"unknown subscription id {sid!r}"
            return Event(EventKind.DATA, sid, field, detail=detail)
        if kind == "error":
            return Event(EventKind.ERROR, sid, field, detail=_error_text(frame.get("payload")))
        if kind == "complete":
            return Event(EventKind.COMPLETE, sid, field)
        if kind == "ka":
            return Event(EventKind.KEEPALIVE)
        if kind == "pong":
            return Event(EventKind.PONG)
        if kind == "ping":
            reply: dict[str, Any] = {"type": "pong"}
            if frame.get("payload") is not None:
                reply["payload"] = frame["payload"]
            return Event(EventKind.PING, reply=json.dumps(reply))
        if kind == "connection_ack":
            self.acknowledged = True
            return Event(EventKind.ACK)
        if kind == "connection_error":
            return Event(EventKind.CONNECTION_ERROR, detail=_error_text(frame.get("payload")))
        return Event(EventKind.UNKNOWN, sid, field, detail=f"unknown frame type {kind!r}")
