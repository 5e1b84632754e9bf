"""The simulator's query API: Tote's HTTPS GraphQL gateway, for the two sweep operations.

``POST /partner/gateway/graphql`` with ``{"query", "variables"}``.  It is not a GraphQL engine:
it recognises the operation by its root field (``products`` or ``events``), applies the
arguments the sweep uses (``date``; ``since``/``until``; ``first``/``after``) and answers in the
schema's shape from :class:`~simulator.state.DayState`, whatever the selection set.  Relay
pagination with opaque cursors (base64 of the operation and offset).  ``Authorization: Api-Key
<key>`` (or ``Bearer <key>``) is required when the simulator has a key (401 otherwise).  Every
response carries ``X-Partner-Request-ID`` (the client's, else a fresh one).

Faults (:class:`QueryFaults`, switched on the control API like the websocket faults): the next
N answers slow, failing with a 5xx, or rate limited (429 with ``Retry-After``).

:func:`handle` is a plain function from a request to ``(status, headers, body)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contract.ingress import parse_timestamp
from simulator.state import DayState

__all__ = ["GRAPHQL_PATH", "MAX_FIRST", "QueryFaults", "handle", "root_field"]

GRAPHQL_PATH = "/partner/gateway/graphql"
MAX_FIRST = 500
"""Largest page a client may ask for (larger ``first`` is a GraphQL error, as on HotChocolate)."""

_ROOT = re.compile(r"\{\s*(?:\w+\s*:\s*)?(\w+)")
_REQUEST_ID = re.compile(r"[0-9A-Za-z]{1,100}")


def root_field(document: str) -> str | None:
    """The first root field of a query document (after any operation header / alias)."""
    match = _ROOT.search(document)
    return match.group(1) if match else None


def encode_cursor(operation: str, offset: int) -> str:
    return base64.b64encode(f"{operation}:{offset}".encode()).decode()


def decode_cursor(operation: str, cursor: str) -> int:
    """The offset ``cursor`` stands for; ``ValueError`` when it is not one of ours for
    ``operation``."""
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        op, _, offset = text.partition(":")
        if op != operation:
            raise ValueError
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError(f"invalid cursor {cursor!r}") from None


@dataclass
class QueryFaults:
    """Faults for the next answers; thread-safe (set from the control thread, used per request)."""

    slow_seconds: float = 0.0
    slow_count: int = 0
    error_status: int = 500
    error_count: int = 0
    rate_limit_count: int = 0
    retry_after: float = 1.0
    served: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> tuple[float, int | None, float | None]:
        """``(delay, failing status or None, retry_after or None)`` for the next request."""
        with self._lock:
            delay = 0.0
            if self.slow_count > 0:
                self.slow_count -= 1
                delay = self.slow_seconds
            if self.rate_limit_count > 0:
                self.rate_limit_count -= 1
                return delay, 429, self.retry_after
            if self.error_count > 0:
                self.error_count -= 1
                return delay, self.error_status, None
            return delay, None, None

    def count(self, key: str) -> None:
        with self._lock:
            self.served[key] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "served": dict(self.served),
                "pending": {
                    "slow": self.slow_count,
                    "errors": self.error_count,
                    "rate_limited": self.rate_limit_count,
                },
            }


def _authorised(header: str | None, api_key: str | None) -> bool:
    if api_key is None:
        return True
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower() in ("api-key", "bearer") and value.strip() == api_key


def _error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}], "data": None}


def _page(operation: str, nodes: list[dict[str, Any]], first: int, offset: int) -> dict[str, Any]:
    window = nodes[offset : offset + first]
    end = offset + len(window)
    return {
        "data": {
            operation: {
                "pageInfo": {
                    "hasNextPage": end < len(nodes),
                    "endCursor": encode_cursor(operation, end) if window else None,
                },
                "nodes": window,
            }
        }
    }


def answer(state: DayState, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL response body for one query against ``state`` (errors as GraphQL errors)."""
    operation = root_field(document)
    if operation not in ("products", "events"):
        return _error(f"the simulator answers products and events only, not {operation!r}")
    first = variables.get("first")
    if first is None:
        first = 50
    if not isinstance(first, int) or isinstance(first, bool) or not 1 <= first <= MAX_FIRST:
        return _error(f"first must be an integer between 1 and {MAX_FIRST}, got {first!r}")
    after = variables.get("after")
    try:
        offset = 0 if after in (None, "") else decode_cursor(operation, str(after))
    except ValueError as exc:
        return _error(str(exc))
    if operation == "products":
        raw_day = variables.get("date")
        try:
            day = date.fromisoformat(raw_day) if raw_day else None
        except (TypeError, ValueError):
            return _error(f"date must be an ISO date, got {raw_day!r}")
        selected = state.products_on(day) if day else list(state.products.values())
        return _page(operation, [state.product_node(s) for s in selected], first, offset)
    try:
        since = parse_timestamp(variables["since"]) if variables.get("since") else None
        until = parse_timestamp(variables["until"]) if variables.get("until") else None
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    events = state.events_between(since, until)
    return _page(operation, [state.event_node(e) for e in events], first, offset)


def parse_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """``(query, variables)`` from a POST body; ``ValueError`` with a message when unusable."""
    try:
        obj = json.loads(body or b"null")
    except ValueError:
        raise ValueError("request body is not JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("query"), str):
        raise ValueError('expected {"query": "...", "variables": {...}}')
    variables = obj.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError("variables must be an object")
    return obj["query"], variables


def response_headers(request_id: str | None) -> dict[str, str]:
    rid = request_id if request_id and _REQUEST_ID.fullmatch(request_id) else uuid.uuid4().hex
    return {"Content-Type": "application/json", "X-Partner-Request-ID": rid}


def handle(
    authorization: str | None,
    request_id: str | None,
    body: bytes,
    api_key: str | None,
    run_on_state: Any,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request → ``(status, headers, body)``.  ``run_on_state(fn)`` calls ``fn(state)``
    where the state may be read (the simulator's event loop) and returns its result."""
    headers = response_headers(request_id)
    if not _authorised(authorization, api_key):
        return 401, headers, json.dumps(_error("Unauthorized: Api-Key required")).encode()
    try:
        document, variables = parse_request(body)
    except ValueError as exc:
        return 400, headers, json.dumps(_error(str(exc))).encode()
    result = run_on_state(lambda state: answer(state, document, variables))
    return 200, headers, json.dumps(result, separators=(",", ":")).encode()
