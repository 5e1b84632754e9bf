"""The server side of both GraphQL-over-WebSocket subprotocols, without I/O.

Behaves as ``shared/tote-api.md`` describes Tote's (HotChocolate-like) server: the API key is
checked in ``connection_init``; a refused init is close 4403 (``graphql-transport-ws``) or
``connection_error`` then close 1011 (``graphql-ws``); a second init is 4429; subscribing before
the ack is 4401; a duplicate id is 4409 (1011 on ``graphql-ws``); a frame that is not a known
message is 4400; an operation without exactly one known root field gets an ``error`` frame for
its id followed by ``complete``, and the connection carries on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Close", "Send", "ServerSession", "root_fields"]

GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
GRAPHQL_WS = "graphql-ws"


@dataclass(frozen=True, slots=True)
class Send:
    text: str


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


Action = Send | Close

_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_][A-Za-z0-9_]*|[{}():]|\S')


def root_fields(query: str) -> list[str]:
    """Root fields of a ``subscription`` operation; raises ``ValueError`` on bad syntax."""
    tokens = _TOKEN.findall(query)
    if not tokens or tokens[0] != "subscription":
        raise ValueError("expected a subscription operation")
    try:
        start = tokens.index("{")
    except ValueError:
        raise ValueError("expected '{' after the operation name") from None
    fields: list[str] = []
    depth = parens = 0
    for i in range(start, len(tokens)):
        tok = tokens[i]
        if tok == "(":
            parens += 1
        elif tok == ")":
            parens -= 1
        elif tok == "{" and not parens:
            depth += 1
        elif tok == "}" and not parens:
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced '}'")
        elif depth == 1 and not parens and (tok[0].isalpha() or tok[0] == "_"):
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following != ":":  # an alias is followed by ':' and then the field itself
                fields.append(tok)
    if depth != 0 or parens != 0:
        raise ValueError("unbalanced braces or parentheses")
    return fields


def _error_payload(message: str, legacy: bool) -> Any:
    error = {"message": message, "extensions": {"code": "VALIDATION_ERROR"}}
    return error if legacy else [error]


class ServerSession:
    """One client connection: feed it received text, get back what to send or how to close.

    ``api_key`` ``None`` accepts any authorization; ``fields`` are the known root fields.
    """

    def __init__(self, protocol: str, api_key: str | None, fields: Iterable[str]) -> None:
        if protocol not in (GRAPHQL_TRANSPORT_WS, GRAPHQL_WS):
            raise ValueError(f"unsupported subprotocol {protocol!r}")
        self.protocol = protocol
        self.api_key = api_key
        self.fields = frozenset(fields)
        self.initialised = False
        self.subscriptions: dict[str, str] = {}  # id -> root field
        self.by_field: dict[str, list[str]] = {}  # root field -> ids

    @property
    def legacy(self) -> bool:
        return self.protocol == GRAPHQL_WS

    def authorised(self, authorization: Any) -> bool:
        if self.api_key is None:
            return True
        expected = (f"Api-Key {self.api_key}", f"Bearer {self.api_key}")
        return isinstance(authorization, str) and authorization.strip() in expected

    def receive(self, text: str | bytes) -> list[Action]:
        try:
            frame = json.loads(text)
        except ValueError:
            return [Close(4400, "Invalid message received")]
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            return [Close(4400, "Invalid message received")]
        kind = frame["type"]
        if kind == "connection_init":
            return self._init(frame.get("payload"))
        if kind == "ping" and not self.legacy:
            return [Send(json.dumps({"type": "pong"}))]
        if kind in ("pong", "ka"):
            return []
        if (kind == "subscribe" and not self.legacy) or (kind == "start" and self.legacy):
            return self._subscribe(frame)
        if (kind == "complete" and not self.legacy) or (kind == "stop" and self.legacy):
            self._forget(str(frame.get("id")))
            return []
        if kind == "connection_terminate" and self.legacy:
            return [Close(1000, "Connection terminated")]
        return [Close(4400, f"Invalid message type {kind!r}")]

    def _init(self, payload: Any) -> list[Action]:
        if self.initialised:
            return [Close(4429, "Too many initialisation requests")]
        auth = payload.get("authorization") if isinstance(payload, dict) else None
        if not self.authorised(auth):
            if self.legacy:
                error = {"type": "connection_error", "payload": {"message": "Unauthorized"}}
                return [Send(json.dumps(error)), Close(1011, "Unauthorized")]
            return [Close(4403, "Forbidden")]
        self.initialised = True
        ack: list[Action] = [Send(json.dumps({"type": "connection_ack"}))]
        if self.legacy:
            ack.append(Send(self.keepalive()))
        return ack

    def _subscribe(self, frame: dict[str, Any]) -> list[Action]:
        if not self.initialised:
            return [Close(4401, "Unauthorized")]
        sid = frame.get("id")
        if not isinstance(sid, str) or not sid:
            return [Close(4400, "Subscribe message without an id")]
        if sid in self.subscriptions:
            if self.legacy:
                return [Close(1011, f"Subscriber for {sid} already exists")]
            return [Close(4409, f"Subscriber for {sid} already exists")]
        payload = frame.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        if not isinstance(query, str):
            return self._reject(sid, "The query is missing")
        try:
            fields = root_fields(query)
        except ValueError as exc:
            return self._reject(sid, f"Syntax error: {exc}")
        if len(fields) != 1:
            return self._reject(
                sid, f"Subscription operations must have exactly one root field, got {len(fields)}"
            )
        if fields[0] not in self.fields:
            return self._reject(
                sid, f"The field `{fields[0]}` does not exist on the type `Subscription`."
            )
        self.subscriptions[sid] = fields[0]
        self.by_field.setdefault(fields[0], []).append(sid)
        return []

    def _reject(self, sid: str, message: str) -> list[Action]:
        error = {"id": sid, "type": "error", "payload": _error_payload(message, self.legacy)}
        return [Send(json.dumps(error)), Send(json.dumps({"id": sid, "type": "complete"}))]

    def _forget(self, sid: str) -> None:
        field = self.subscriptions.pop(sid, None)
        if field is not None:
            self.by_field[field].remove(sid)

    def keepalive(self) -> str:
        """The keep-alive frame: ``ka`` (graphql-ws) or ``ping`` (graphql-transport-ws)."""
        return '{"type":"ka"}' if self.legacy else '{"type":"ping"}'

    def data_frames(self, field: str, payload_json: str) -> list[str]:
        """The frames carrying one message to every subscription of ``field`` on this socket."""
        kind = "data" if self.legacy else "next"
        return [
            f'{{"id":{json.dumps(sid)},"type":"{kind}","payload":{{"data":{{"{field}":{payload_json}}}}}}}'
            for sid in self.by_field.get(field, ())
        ]
