"""The reconciliation sweep's GraphQL queries against Tote's HTTPS gateway, and the racing day.

Tote never replays what a subscriber missed, and its guide says to reconcile by query.  A sweep
asks two paginated root fields for the whole racing day and forwards every response page raw
to the ingress topic (the connector parses nothing but ``pageInfo``); the pipeline turns a page
into reference rows and into the same typed messages the subscriptions carry.

The documents live here, in the shared contract, because three parties must agree on them: the
connector sends them, the simulator answers them and the pipeline reads their responses.
Selections are lean: only what reconciliation and reference data need (see
``shared/tote-schema.graphqls`` for the gateway's schema).  Names follow that schema exactly:
``products`` takes a ``Date``; ``events`` takes ``since``/``until`` ``DateTime``s; both are Relay
connections (``first``/``after``, ``pageInfo { hasNextPage endCursor }``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "EVENTS_QUERY",
    "OPERATIONS",
    "PRODUCTS_QUERY",
    "RACING_TZ",
    "day_window",
    "page_info",
    "racing_day",
    "variables",
]

RACING_TZ = ZoneInfo("Europe/London")
"""UK racing days are Europe/London dates (the Scheduler runs 06:00-23:00 in this zone)."""

_MONEY = "{ decimalAmount currency { code } }"

PRODUCTS_QUERY = (
    "query ToteProducts($date: Date, $first: Int, $after: String) {"
    " products(date: $date, first: $first, after: $after) {"
    " pageInfo { hasNextPage endCursor }"
    " nodes { id name type { ... on BettingProduct {"
    " betType { code } selling { status }"
    f" pool {{ total {{ grossAmount {_MONEY} netAmount {_MONEY} }} }}"
    " legs { nodes { id event { id }"
    " selections { nodes { id name status competitor { id } } } } }"
    " result { status dividends { nodes {"
    f" dividend {{ name type status amount {_MONEY} }}"
    " dividendLegs { nodes { id dividendSelections { nodes { id finishingPosition } } } }"
    " } } } } } } } }"
)
"""Every product of a racing day: bet type, selling status, pool total, legs → event and
selections (name, status, competitor), and dividends once resulted."""

EVENTS_QUERY = (
    "query ToteEvents($since: DateTime, $until: DateTime, $first: Int, $after: String) {"
    " events(since: $since, until: $until, first: $first, after: $after) {"
    " pageInfo { hasNextPage endCursor }"
    " nodes { id name status scheduledStartDateTime { iso8601 }"
    " venue { name country { alpha2Code } }"
    " eventCompetitors { nodes { id name entryStatus details {"
    " ... on HorseDetails { clothNumber } ... on GreyhoundDetails { trapNumber } } } }"
    " result { status results { nodes { id name finishingPosition status } } } } } }"
)
"""Every event (race) of a racing day: name, venue, scheduled start, status, runners and result."""

OPERATIONS: dict[str, str] = {"products": PRODUCTS_QUERY, "events": EVENTS_QUERY}
"""Operation name (the ``operation`` ingress attribute and the response's root field) → document."""


def racing_day(now: datetime) -> date:
    """The UK racing day ``now`` falls in: its Europe/London calendar date."""
    if now.tzinfo is None:
        raise ValueError("racing_day needs an aware datetime")
    return now.astimezone(RACING_TZ).date()


def day_window(day: date) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC covering the Europe/London calendar day ``day`` (DST-aware)."""
    start = datetime.combine(day, time(0), RACING_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), RACING_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def variables(operation: str, day: date, first: int, after: str | None) -> dict[str, Any]:
    """The variables of one page request of ``operation`` for racing day ``day``."""
    out: dict[str, Any] = {"first": first, "after": after}
    if operation == "products":
        out["date"] = day.isoformat()
    elif operation == "events":
        since, until = day_window(day)
        out["since"], out["until"] = _rfc3339(since), _rfc3339(until)
    else:
        raise ValueError(
            f"unknown sweep operation {operation!r}; expected one of {list(OPERATIONS)}"
        )
    return out


def page_info(body: Any, operation: str) -> tuple[bool, str | None]:
    """``(has_next_page, end_cursor)`` of a response body (parsed JSON), ``(False, None)`` when
    the body has no usable ``pageInfo`` (an error page ends the operation's pagination)."""
    try:
        info = body["data"][operation]["pageInfo"]
        has_next = info.get("hasNextPage") is True
        cursor = info.get("endCursor")
    except (KeyError, TypeError, AttributeError):
        return False, None
    if not isinstance(cursor, str) or not cursor:
        return False, None
    return has_next, cursor
