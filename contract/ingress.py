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
    """RFC 3339 UTC with milliseconds and a ``Z``, the contract's timestamp form.

    Formatted by hand, not with ``strftime``: glibc's ``%Y`` drops leading zeros (year 1 → ``1``),
    which is not RFC 3339 and which BigQuery refuses.
    """
    t = when.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
        f"{t.microsecond // 1000:03d}Z"
    )


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
"""RFC 3339's shape with ASCII digits only (``\\d`` also matches Arabic-Indic or fullwidth digits)."""


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset) into an aware UTC datetime.

    The shape is checked first (ASCII digits, a zone), then the calendar (``datetime`` refuses
    February 30, month 13 and hour 25), so only instants BigQuery's TIMESTAMP accepts get through.
    Raises ``ValueError`` with the offending text when it is not one.
    """
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    iso = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    dot = iso.find(".")
    if dot != -1:  # fromisoformat takes at most microseconds; RFC 3339 allows more digits
        end = dot + 1
        while end < len(iso) and iso[end].isdigit():
            end += 1
        iso = iso[: min(end, dot + 7)] + iso[end:]
    try:
        parsed = datetime.fromisoformat(iso).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # not a calendar instant / outside years 1-9999
        raise ValueError(f"not a valid instant: {text!r} ({exc})") from None
    return parsed


_CANONICAL = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z", re.ASCII
)
"""The contract's form with the time fields in range (checked by the regex, in C)."""


def canonical_timestamp(text: str) -> str:
    """``text`` in the contract's form; ``ValueError`` if it is not a real RFC 3339 instant.

    Fast path: text already in the contract's shape is returned as is once its calendar fields
    are checked (the shape alone let ``2026-02-30T10:00:00.000Z`` through, which BigQuery then
    refused for the raw, typed and dead-letter rows alike).  Frames arrive with a handful of
    distinct dates, so a date is checked against the calendar once and remembered; the time
    fields' ranges are part of the regex (an out-of-range time takes the slow path, which
    refuses it).
    """
    if isinstance(text, str) and _CANONICAL.fullmatch(text):
        date = text[:10]
        if date not in _VALID_DATES:
            try:
                datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]))
            except ValueError as exc:
                raise ValueError(f"not a valid instant: {text!r} ({exc})") from None
            if len(_VALID_DATES) >= 4096:
                _VALID_DATES.clear()
            _VALID_DATES.add(date)
        return text
    return format_timestamp(parse_timestamp(text))


_VALID_DATES: set[str] = set()
"""Dates (``YYYY-MM-DD``) already found on the calendar (bounded: cleared at 4,096)."""


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
