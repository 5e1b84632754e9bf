"""The ingress contract between the connector and the pipeline.

One Pub/Sub message per websocket text frame the connector received, and one per HTTPS
query-response page of a reconciliation sweep (``source`` = ``query``):

* ``data``: the frame exactly as received (UTF-8 JSON text, not re-encoded);
* attributes:

  ============== ==========================================================================
  frame_id       unique per received frame (the connector's; a retry keeps it)
  received_at    RFC 3339 UTC with milliseconds, e.g. ``2026-11-26T10:15:00.123Z``
  connection_id  the websocket connection the frame came over
  subscription   the subscription field the frame's operation id belongs to, when known
  protocol       ``graphql-ws`` or ``graphql-transport-ws``
  ============== ==========================================================================

Query pages (``source`` = ``query``; ``data`` = the HTTP response body exactly as received) carry
``frame_id``, ``received_at`` (when the response arrived) and ``connection_id`` (the connector
instance's id) as frames do, plus:

  ==================== ==================================================================
  source               ``query`` (frames: ``subscription``; absent means ``subscription``)
  operation            the query operation: ``products`` or ``events``
  sweep_id             one id per sweep (all pages of both operations)
  page                 1-based page number within the operation
  request_started_at   when the request was sent: the page's state is *as of* this instant
  request_id           the ``X-Partner-Request-ID`` sent with the request
  ==================== ==================================================================

``test`` = ``"true"`` marks a connector self-test message (``POST /test-pubsub``); the pipeline
records it in the raw table and goes no further.

Both sides import this module, so the attribute names exist once.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

__all__ = [
    "ATTR_CONNECTION_ID",
    "ATTR_FRAME_ID",
    "ATTR_OPERATION",
    "ATTR_PAGE",
    "ATTR_PROTOCOL",
    "ATTR_RECEIVED_AT",
    "ATTR_REQUEST_ID",
    "ATTR_REQUEST_STARTED_AT",
    "ATTR_SOURCE",
    "ATTR_SUBSCRIPTION",
    "ATTR_SWEEP_ID",
    "ATTR_TEST",
    "MAX_FRAME_BYTES",
    "PROTOCOLS",
    "REQUIRED_ATTRIBUTES",
    "SOURCES",
    "SOURCE_QUERY",
    "SOURCE_SUBSCRIPTION",
    "canonical_timestamp",
    "format_timestamp",
    "ingress_attributes",
    "new_id",
    "parse_timestamp",
    "query_page_attributes",
]

ATTR_FRAME_ID = "frame_id"
ATTR_RECEIVED_AT = "received_at"
ATTR_CONNECTION_ID = "connection_id"
ATTR_SUBSCRIPTION = "subscription"
ATTR_PROTOCOL = "protocol"
ATTR_TEST = "test"
ATTR_SOURCE = "source"
ATTR_OPERATION = "operation"
ATTR_SWEEP_ID = "sweep_id"
ATTR_PAGE = "page"
ATTR_REQUEST_STARTED_AT = "request_started_at"
ATTR_REQUEST_ID = "request_id"

SOURCE_SUBSCRIPTION = "subscription"
SOURCE_QUERY = "query"
SOURCES = (SOURCE_SUBSCRIPTION, SOURCE_QUERY)
"""Where an ingress message came from: a websocket frame or a query-response page."""

REQUIRED_ATTRIBUTES = (ATTR_FRAME_ID, ATTR_RECEIVED_AT)
"""Without these a frame cannot be deduplicated or placed in time: it is dead-lettered."""

PROTOCOLS = ("graphql-transport-ws", "graphql-ws")
"""Offered in this order: the modern protocol first, the legacy Apollo one as fallback."""

MAX_FRAME_BYTES = 1_000_000
"""Frames larger than this are dead-lettered as oversized (Tote frames are a few hundred bytes)."""


def new_id() -> str:
    """A fresh random id (frame ids, connection ids): 32 hex characters."""
    return uuid.uuid4().hex


def format_timestamp(when: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z``, the contract's timestamp form."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset) into an aware UTC datetime.

    Raises ``ValueError`` with the offending text when it is not one.
    """
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no time zone: {text!r}")
    return parsed.astimezone(UTC)


_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def canonical_timestamp(text: str) -> str:
    """``text`` in the contract's form (fast path: it already is); ``ValueError`` if invalid."""
    if _CANONICAL.fullmatch(text):
        return text
    return format_timestamp(parse_timestamp(text))


def ingress_attributes(
    *,
    frame_id: str,
    received_at: datetime,
    connection_id: str,
    protocol: str,
    subscription: str | None = None,
) -> dict[str, str]:
    """The attributes the connector attaches to one frame (``subscription`` only when known)."""
    attrs = {
        ATTR_FRAME_ID: frame_id,
        ATTR_RECEIVED_AT: format_timestamp(received_at),
        ATTR_CONNECTION_ID: connection_id,
        ATTR_PROTOCOL: protocol,
    }
    if subscription:
        attrs[ATTR_SUBSCRIPTION] = subscription
    return attrs


def query_page_attributes(
    *,
    frame_id: str,
    received_at: datetime,
    connection_id: str,
    operation: str,
    sweep_id: str,
    page: int,
    request_started_at: datetime,
    request_id: str,
) -> dict[str, str]:
    """The attributes the connector attaches to one query-response page."""
    return {
        ATTR_FRAME_ID: frame_id,
        ATTR_RECEIVED_AT: format_timestamp(received_at),
        ATTR_CONNECTION_ID: connection_id,
        ATTR_SOURCE: SOURCE_QUERY,
        ATTR_OPERATION: operation,
        ATTR_SWEEP_ID: sweep_id,
        ATTR_PAGE: str(page),
        ATTR_REQUEST_STARTED_AT: format_timestamp(request_started_at),
        ATTR_REQUEST_ID: request_id,
    }
