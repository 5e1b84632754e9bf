"""The ingress contract between the connector and the pipeline.

One Pub/Sub message per websocket text frame the connector received:

* ``data``: the frame exactly as received (UTF-8 JSON text, not re-encoded);
* attributes:

  ============== ==========================================================================
  frame_id       unique per received frame (the connector's; a retry keeps it)
  received_at    RFC 3339 UTC with milliseconds, e.g. ``2026-11-26T10:15:00.123Z``
  connection_id  the websocket connection the frame came over
  subscription   the subscription field the frame's operation id belongs to, when known
  protocol       ``graphql-ws`` or ``graphql-transport-ws``
  ============== ==========================================================================

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
    "ATTR_PROTOCOL",
    "ATTR_RECEIVED_AT",
    "ATTR_SUBSCRIPTION",
    "ATTR_TEST",
    "MAX_FRAME_BYTES",
    "PROTOCOLS",
    "REQUIRED_ATTRIBUTES",
    "canonical_timestamp",
    "format_timestamp",
    "ingress_attributes",
    "new_id",
    "parse_timestamp",
]

ATTR_FRAME_ID = "frame_id"
ATTR_RECEIVED_AT = "received_at"
ATTR_CONNECTION_ID = "connection_id"
ATTR_SUBSCRIPTION = "subscription"
ATTR_PROTOCOL = "protocol"
ATTR_TEST = "test"

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
