"""A reconciliation sweep's query-response page → typed events and reference records.

Tote never replays what a subscriber missed, so the connector sweeps the racing day with the
gateway's ``products`` and ``events`` queries (``contract.queries``) and forwards each response
page untouched (``source`` = ``query``, see ``contract.ingress``).  A page yields two things:

* **current state** as the typed messages the subscriptions carry.  Each is built in the
  subscription's shape (``pool.total.grossAmount`` → ``total.grossAmounts[]``, ``dividendLegs`` →
  ``legs[].selections[]``, ``entryStatus`` → ``status`` ...) and goes through the same
  ``normalize`` and ``dedup.entity_key`` as a frame, so a query state equal to a streamed one has
  the same values and the same key.  ``source`` = ``query``; ``as_of`` = the page's
  ``request_started_at`` (the state held no later than the request: a sweep never claims to be
  newer than it is).  What the query does not know is omitted, not invented: the event's
  ``values`` hold only the columns the query provided (``PoolTotalChanged.is_finalized`` is never
  there), so consumers and deduplication compare provided columns only; a list-valued state
  (a race's results, a pool's dividends) is emitted only when its connections are complete;
* **reference records** (events, products, legs, selections, competitors) with the exact
  ``values`` of ``contract.catalog.REFERENCE_COLUMNS``: append-only history rows and
  ``tote-reference`` messages that name the UUIDs.

Bad input, decided here (and in ``docs/analyst.md``):

* a page that is not JSON (or not UTF-8) → ``parse`` dead letter;
* missing/invalid ``operation`` or ``request_started_at`` attribute → ``contract`` dead letter;
* GraphQL ``errors`` and no data for the operation → ``graphql_error`` dead letter (the errors'
  messages are the reason);
* ``errors`` *with* data (a partial response: some fields resolved to null) → the data is
  processed, the errors are returned in :attr:`PageResult.errors` for the caller to count and log;
  the nodes the errors' paths reach into yield no reference records (:func:`partial_nodes`):
  their nulls mean "failed", and a row of them would blank known values;
* a node that cannot be used (no id, a required value missing, a wrong type) is skipped and
  reported in :attr:`PageResult.problems`; so is one child of a node (a leg, a selection, a
  runner: its siblings are kept) and one value of the wrong type (NULL in its column);
* a body that is JSON but not a GraphQL response → ``validate`` dead letter;
* anything unexpected → a problem for its node, or an ``internal`` dead letter with the trace
  for the page: :func:`page_frame` never raises (``pipeline.core`` calls it outside its own
  ``try``).

The page text is always kept in ``raw_frames`` (as every frame is), so nothing is lost: a skipped
node can be re-read from there.  Unknown fields are ignored.  Plain functions, no Beam.
"""

from __future__ import annotations

import json
import logging
import reprlib
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from typing import Any, NamedTuple

from contract import catalog, ingress, queries
from pipeline import dedup
from pipeline.normalize import ValidationError, lookup, normalize
from pipeline.records import DeadLetter, Frame, ReferenceRecord, TypedEvent, canonical_json

__all__ = [
    "PAGE_MESSAGE_TYPES",
    "Page",
    "PageError",
    "PageResult",
    "events_page_state",
    "graphql_errors",
    "page_frame",
    "parse_page",
    "partial_nodes",
    "process_page",
    "products_page_state",
    "provided_values",
    "query_event",
]

_log = logging.getLogger(__name__)
_DECODER = json.JSONDecoder(parse_float=Decimal)

PAGE_MESSAGE_TYPES: dict[str, str] = {"products": "QueryProductsPage", "events": "QueryEventsPage"}
"""``raw_frames.message_type`` of a page, by operation."""


class PageError(ValueError):
    """A page that cannot be processed at all: ``stage`` (dead-letter stage) and reason."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@dataclass(slots=True)
class PageResult:
    """What one page yields: typed events, reference records, and what was wrong with it."""

    operation: str
    events: list[TypedEvent] = field(default_factory=list)
    reference: list[ReferenceRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """GraphQL errors of a partial response (data was processed all the same)."""
    problems: list[str] = field(default_factory=list)
    """Nodes or parts of nodes skipped (a child, a value of the wrong type: NULL, a node's
    reference records withheld under a GraphQL error), one line each."""


# --- parsing ---------------------------------------------------------------------------------------


_ERROR_LINE_CHARS = 500


def _brief(value: Any) -> str:
    """A string as is, anything else as a depth- and size-bounded repr (no deep recursion)."""
    return value if isinstance(value, str) else reprlib.repr(value)


def graphql_errors(errors: Any) -> list[str]:
    """A response's ``errors`` as one line each: message, ``[code]`` and path when given
    (at most ``_ERROR_LINE_CHARS`` characters a line)."""
    out = []
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            out.append(_brief(error)[:_ERROR_LINE_CHARS])
            continue
        line = _brief(error.get("message", error))
        code = _get(error, "extensions", "code")
        if code:
            line += f" [{_brief(code)}]"
        if isinstance(error.get("path"), list):
            line += " at " + ".".join(_brief(p) for p in error["path"][:20])
        out.append(line[:_ERROR_LINE_CHARS])
    return out


class Page(NamedTuple):
    """A parsed response page: its nodes, its GraphQL errors (one line each) and the indexes
    of the nodes those errors reach into (see :func:`partial_nodes`)."""

    nodes: list[Any]
    errors: list[str]
    partial: frozenset[int]


def partial_nodes(errors: Any, operation: str, count: int) -> frozenset[int]:
    """Indexes of the ``count`` nodes a partial response's ``errors`` reach into.

    In a partial response a null means "this resolver failed", not "none": a reference row
    built from such a node would overwrite a known name or status with NULL.  An error's
    ``path`` (``["products", "nodes", 3, "type", "selling"]``) names its node; an error that
    names none (no path, or a path above the nodes) may touch any node, so all are reached.
    Errors under ``pageInfo`` touch no node.
    """
    reached: set[int] = set()
    for error in errors if isinstance(errors, list) else [errors]:
        path = error.get("path") if isinstance(error, dict) else None
        if isinstance(path, list) and path[:2] == [operation, "pageInfo"]:
            continue
        if (
            isinstance(path, list)
            and len(path) >= 3
            and path[:2] == [operation, "nodes"]
            and isinstance(path[2], int)
            and not isinstance(path[2], bool)
        ):
            reached.add(path[2])
        else:
            return frozenset(range(count))
    return frozenset(reached)


def parse_page(data: bytes, operation: str) -> Page:
    """The :class:`Page` of a response body; :class:`PageError` when there is no data.

    Numbers are parsed as ``Decimal`` (money is exact).  ``data.<operation>.nodes`` may be empty
    (a day without racing); ``errors`` without that data is a ``graphql_error``.
    """
    try:
        body = _DECODER.decode(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PageError("parse", f"query page is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PageError("parse", f"query page is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise PageError("parse", "query page is nested too deeply to parse") from exc
    if not isinstance(body, dict):
        raise PageError("validate", f"query page is a JSON {type(body).__name__}, not an object")
    errors = graphql_errors(body["errors"]) if body.get("errors") else []
    payload = body.get("data")
    connection = payload.get(operation) if isinstance(payload, dict) else None
    if connection is None:
        if errors:
            raise PageError("graphql_error", "; ".join(errors)[:2000])
        raise PageError("validate", f"query page has no data.{operation} and no errors")
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    if not isinstance(nodes, list):
        raise PageError("validate", f"data.{operation}.nodes is not a list")
    partial = partial_nodes(body["errors"], operation, len(nodes)) if errors else frozenset()
    return Page(nodes, errors, partial)


# --- typed events ----------------------------------------------------------------------------------


def provided_values(spec: catalog.MessageType, message: dict[str, Any]) -> dict[str, Any]:
    """The normalised values of the columns whose payload path ``message`` provides.

    Raises :class:`ValidationError` as ``normalize`` does.  Columns the message does not carry
    are left out (not ``None`` / ``[]``): a query knows less than a subscription message.
    """
    values = normalize(spec, dict(message))
    return {
        c.name: value
        for c in spec.columns
        if ((value := values[c.name]) is not None and value != [])
        or any(lookup(message, s) is not None for s in c.sources)
    }


def query_event(message_type: str, message: dict[str, Any], as_of: str) -> TypedEvent:
    """A typed event from a subscription-shaped ``message`` derived from a query page."""
    spec = catalog.by_name(message_type)
    assert spec is not None and spec.table is not None, message_type
    values = provided_values(spec, message)
    payload_json = canonical_json(message)
    return TypedEvent(
        message_type=spec.name,
        key=dedup.entity_key(spec.name, (values.get(c) for c in spec.key_columns)),
        fingerprint=dedup.fingerprint(spec.name, values),
        values=values,
        message=message,
        payload_json=payload_json,
        source=ingress.SOURCE_QUERY,
        as_of=as_of,
    )


def _nodes(connection: Any) -> list[Any]:
    """A connection's ``nodes`` (or a bare list); ``[]`` when absent or null."""
    if isinstance(connection, list):
        return connection
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    return [n for n in nodes if n is not None] if isinstance(nodes, list) else []


def _complete_nodes(connection: Any) -> list[dict[str, Any]] | None:
    """A connection's nodes when the page knows all of them, else ``None``.

    Known = a dict with a ``nodes`` list of objects.  A null connection or a null node is what
    a partial response leaves where a resolver failed: a list built from it would say "no
    results" where the truth is "unknown", so callers emit nothing instead.
    """
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        return None
    return nodes


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _money_list(money: Any) -> list[Any] | None:
    return [money] if isinstance(money, dict) else None


def _dividend_lines(result: Any) -> list[dict[str, Any]] | None:
    """``PoolDividendChanged.dividends`` of a product's result; ``None`` unless fully known.

    Every line needs its ``dividend`` object and complete ``dividendLegs`` / ``dividendSelections``
    connections: a line or leg missing from a partial response would publish (and make latest)
    dividends without their winners.  ``[]`` when the product has no dividends yet.
    """
    lines = _complete_nodes(_get(result, "dividends"))
    if lines is None:
        return None
    out = []
    for line in lines:
        legs = _complete_nodes(line.get("dividendLegs"))
        if not isinstance(line.get("dividend"), dict) or legs is None:
            return None
        shaped_legs = []
        for leg in legs:
            selections = _complete_nodes(leg.get("dividendSelections"))
            if selections is None:
                return None
            shaped_legs.append(
                {
                    "legId": leg.get("id"),
                    "selections": [
                        {"id": s.get("id"), "finishingPosition": s.get("finishingPosition")}
                        for s in selections
                    ],
                }
            )
        out.append({"dividend": line["dividend"], "legs": shaped_legs})
    return out


def _product_messages(
    product_id: Any, details: dict[str, Any], problems: list[str], where: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Subscription-shaped messages of one product node (``details`` = its BettingProduct)."""
    status = _get(details, "selling", "status")
    if status is not None:
        yield "ProductStatusChanged", {"productId": product_id, "status": status}
    total = _get(details, "pool", "total")
    if isinstance(total, dict):
        shaped = {
            name: money
            for name, money in (
                ("grossAmounts", _money_list(total.get("grossAmount"))),
                ("netAmounts", _money_list(total.get("netAmount"))),
            )
            if money is not None
        }
        if shaped:
            yield "PoolTotalChanged", {"productId": product_id, "total": shaped}
    for leg in _nodes(_get(details, "legs")):
        for selection in _nodes(_get(leg, "selections")):
            yield (
                "SelectionStatusChanged",
                {
                    "productId": product_id,
                    "legId": _get(leg, "id"),
                    "selectionId": _get(selection, "id"),
                    "status": _get(selection, "status"),
                },
            )
    result = details.get("result")
    if isinstance(result, dict) and result.get("dividends") is not None:
        dividends = _dividend_lines(result)
        if dividends is None:
            problems.append(
                f"{where}.type.result.dividends: incomplete (a null line, leg or selections "
                "connection): no PoolDividendChanged"
            )
        elif dividends:
            yield "PoolDividendChanged", {"productId": product_id, "dividends": dividends}


def _event_messages(
    event_id: Any, node: dict[str, Any], problems: list[str], where: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Subscription-shaped messages of one event node."""
    if node.get("status") is not None:
        yield "EventStatusChanged", {"eventId": event_id, "status": node["status"]}
    result = node.get("result")
    if isinstance(result, dict):
        nodes = _complete_nodes(result.get("results"))
        status = result.get("status")
        if nodes is None:
            # Unknown results are not "no results": a message would wipe the race's result.
            if status not in (None, "PENDING"):
                problems.append(
                    f"{where}.result.results: null or with null nodes: no EventResultChanged"
                )
        # A PENDING result without positions says nothing the subscriptions would send.
        elif nodes or (status or "PENDING") != "PENDING":
            message: dict[str, Any] = {
                "eventId": event_id,
                "competitorResults": [
                    {
                        "competitorId": r.get("id"),
                        "finishingPosition": r.get("finishingPosition"),
                        "status": r.get("status"),
                    }
                    for r in nodes
                ],
            }
            if status is not None:
                message["status"] = status
            yield "EventResultChanged", message
    for competitor in _nodes(node.get("eventCompetitors")):
        yield (
            "CompetitorStatusChanged",
            {
                "eventId": event_id,
                "competitorId": _get(competitor, "id"),
                "status": _get(competitor, "entryStatus"),
            },
        )


# --- reference records ---------------------------------------------------------------------------
#
# Field readers: a value of the wrong type is NULL in its column and one line in ``problems``
# (counted as a skipped part of a node), never ``str()`` of a dict or an exception.

_INT64 = (-(2**63), 2**63 - 1)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Decimal, float)):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _id(value: Any, what: str) -> str:
    """A UUID-like id, stripped and lower-cased (as ``Kind.ID`` normalises it)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: missing or not a string: {value!r}"[:200])
    return value.strip().lower()


def _slug(value: Any, what: str) -> str:
    """A readable id (event, competitor), stripped, case kept (as ``Kind.SLUG``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: missing or not a string: {value!r}"[:200])
    return value.strip()


def _opt_slug(value: Any, what: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    problems.append(f"{what}: expected a non-empty string, got {_json_type(value)}")
    return None


def _opt_text(value: Any, what: str, problems: list[str]) -> str | None:
    """Free text (a name): a JSON string, kept as is."""
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{what}: expected a string, got {_json_type(value)}")
    return None


def _opt_enum(value: Any, what: str, problems: list[str]) -> str | None:
    """A status or code: a non-empty string (or an integer), stripped and upper-cased."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip().upper()
    problems.append(f"{what}: expected a non-empty string, got {_json_type(value)}")
    return None


def _opt_int(value: Any, what: str, problems: list[str]) -> int | None:
    """An INT64: an integer, or a number / numeric string with an integral value.

    The range is checked on the ``Decimal`` before ``int()``: ``int(Decimal("1e999999999"))``
    would build a billion-digit number and hang the worker.
    """
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, (str, Decimal)):
        try:
            parsed = Decimal(value.strip() if isinstance(value, str) else value)
            if (
                parsed.is_finite()
                and _INT64[0] <= parsed <= _INT64[1]
                and parsed == parsed.to_integral_value()
            ):
                number = int(parsed)
        except ArithmeticError:  # InvalidOperation (not a number, sNaN)
            pass
    if number is None or not _INT64[0] <= number <= _INT64[1]:
        problems.append(f"{what}: expected an integer, got {str(value)[:40]!r}")
        return None
    return number


def _timestamp(value: Any, what: str, problems: list[str]) -> str | None:
    """An ISO 8601 instant as the contract's RFC 3339 UTC text; ``None`` when absent or invalid."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return ingress.format_timestamp(ingress.parse_timestamp(value))
        except (ValueError, ArithmeticError):  # OverflowError: out of range once in UTC
            pass
    problems.append(f"{what}: not an ISO 8601 instant: {str(value)[:40]!r}")
    return None


_REFERENCE_KEYS = {
    kind: tuple(c.name for c in columns) for kind, columns in catalog.REFERENCE_COLUMNS.items()
}


def _record(
    kind: str, entity_id: str, as_of: str, values: dict[str, Any], event_id: str | None
) -> ReferenceRecord:
    assert tuple(values) == _REFERENCE_KEYS[kind], kind
    return ReferenceRecord(kind, entity_id, catalog.REFERENCE_TABLES[kind], as_of, values, event_id)


def _child_failed(problems: list[str], what: str, exc: Exception) -> None:
    """One child of a node (a leg, a selection, a runner) skipped; its siblings are kept."""
    if isinstance(exc, ValueError):
        problems.append(f"{what}: skipped: {exc}")
    else:  # a bug, not bad input: keep the trace in the log
        problems.append(f"{what}: skipped: internal error: {type(exc).__name__}: {exc}")
        _log.warning("%s: unexpected error", what, exc_info=True)


def _product_reference(
    node: dict[str, Any], details: dict[str, Any], as_of: str, problems: list[str], where: str
) -> list[ReferenceRecord]:
    """A product's records: its legs (numbered by position in the page's ``nodes``) and their
    selections, then the product itself when every leg and its race is known."""
    product_id = _id(node.get("id"), "id")
    connection = _get(details, "legs")
    raw_legs = connection.get("nodes") if isinstance(connection, dict) else None
    aligned = isinstance(raw_legs, list)
    if not aligned:
        problems.append(f"{where}.type.legs: not a connection with nodes: no product record")
    leg_ids: list[str] = []
    event_ids: list[str] = []
    children: list[ReferenceRecord] = []
    for number, leg in enumerate(raw_legs if isinstance(raw_legs, list) else [], start=1):
        leg_where = f"{where}.type.legs.nodes[{number - 1}]"
        try:
            if not isinstance(leg, dict):
                raise ValueError(f"a {_json_type(leg)}, not a leg")
            leg_id = _id(leg.get("id"), "id")
        except Exception as exc:  # noqa: BLE001 - one leg, its siblings are kept
            _child_failed(problems, leg_where, exc)
            aligned = False
            continue
        event_id = _opt_slug(_get(leg, "event", "id"), f"{leg_where}.event.id", problems)
        if event_id is None:
            aligned = False
        leg_ids.append(leg_id)
        event_ids.append(event_id or "")
        children.append(
            _record(
                "leg",
                leg_id,
                as_of,
                {
                    "leg_id": leg_id,
                    "product_id": product_id,
                    "leg_number": number,
                    "event_id": event_id,
                },
                event_id,
            )
        )
        for index, selection in enumerate(_nodes(leg.get("selections"))):
            selection_where = f"{leg_where}.selections.nodes[{index}]"
            try:
                children.append(
                    _selection_record(
                        selection, product_id, leg_id, event_id, as_of, problems, selection_where
                    )
                )
            except Exception as exc:  # noqa: BLE001 - one selection, its siblings are kept
                _child_failed(problems, selection_where, exc)
    if not aligned:
        if isinstance(raw_legs, list):
            problems.append(f"{where}: a leg or its race is unknown: no product record")
        return children
    total = _get(details, "pool", "total")
    currency = _get(total, "grossAmount", "currency", "code")
    if currency is None:
        currency = _get(total, "netAmount", "currency", "code")
    first_event = event_ids[0] if event_ids else None
    product = _record(
        "product",
        product_id,
        as_of,
        {
            "product_id": product_id,
            "name": _opt_text(node.get("name"), f"{where}.name", problems),
            "bet_type": _opt_enum(
                _get(details, "betType", "code"), f"{where}.type.betType.code", problems
            ),
            "selling_status": _opt_enum(
                _get(details, "selling", "status"), f"{where}.type.selling.status", problems
            ),
            "currency": _opt_enum(currency, f"{where}.type.pool.total.currency.code", problems),
            "event_id": first_event,
            "event_ids": event_ids,
            "leg_ids": leg_ids,
        },
        first_event,
    )
    return [product, *children]


def _selection_record(
    selection: Any,
    product_id: str,
    leg_id: str,
    event_id: str | None,
    as_of: str,
    problems: list[str],
    where: str,
) -> ReferenceRecord:
    selection_id = _id(_get(selection, "id"), "id")
    return _record(
        "selection",
        selection_id,
        as_of,
        {
            "selection_id": selection_id,
            "product_id": product_id,
            "leg_id": leg_id,
            "event_id": event_id,
            "name": _opt_text(selection.get("name"), f"{where}.name", problems),
            "competitor_id": _opt_slug(
                _get(selection, "competitor", "id"), f"{where}.competitor.id", problems
            ),
            "status": catalog.selection_status(
                _opt_enum(selection.get("status"), f"{where}.status", problems)
            ),
        },
        event_id,
    )


def _event_reference(
    node: dict[str, Any], as_of: str, problems: list[str], where: str
) -> list[ReferenceRecord]:
    """An event's record and its runners' (a runner that cannot be used is skipped alone)."""
    event_id = _slug(node.get("id"), "id")
    out = [
        _record(
            "event",
            event_id,
            as_of,
            {
                "event_id": event_id,
                "name": _opt_text(node.get("name"), f"{where}.name", problems),
                "venue": _opt_text(_get(node, "venue", "name"), f"{where}.venue.name", problems),
                "country": _opt_enum(
                    _get(node, "venue", "country", "alpha2Code"),
                    f"{where}.venue.country.alpha2Code",
                    problems,
                ),
                "scheduled_start": _timestamp(
                    _get(node, "scheduledStartDateTime", "iso8601"),
                    f"{where}.scheduledStartDateTime.iso8601",
                    problems,
                ),
                "status": _opt_enum(node.get("status"), f"{where}.status", problems),
            },
            event_id,
        )
    ]
    for index, competitor in enumerate(_nodes(node.get("eventCompetitors"))):
        competitor_where = f"{where}.eventCompetitors.nodes[{index}]"
        try:
            out.append(_competitor_record(competitor, event_id, as_of, problems, competitor_where))
        except Exception as exc:  # noqa: BLE001 - one runner, the others are kept
            _child_failed(problems, competitor_where, exc)
    return out


def _competitor_record(
    competitor: Any, event_id: str, as_of: str, problems: list[str], where: str
) -> ReferenceRecord:
    competitor_id = _slug(_get(competitor, "id"), "id")
    details = competitor.get("details")
    return _record(
        "competitor",
        competitor_id,
        as_of,
        {
            "competitor_id": competitor_id,
            "event_id": event_id,
            "name": _opt_text(competitor.get("name"), f"{where}.name", problems),
            "entry_status": _opt_enum(
                competitor.get("entryStatus"), f"{where}.entryStatus", problems
            ),
            "cloth_number": _opt_int(
                _get(details, "clothNumber"), f"{where}.details.clothNumber", problems
            ),
            "trap_number": _opt_int(
                _get(details, "trapNumber"), f"{where}.details.trapNumber", problems
            ),
        },
        event_id,
    )


# --- one page --------------------------------------------------------------------------------------

_DECIMALS = Context(prec=60)
"""Room for NUMERIC's 38 digits while rounding to 9 places (the default 28 raises on
``12345678901234567890.1234567891``); ``pipeline.normalize`` uses the thread's context."""


def _add_events(
    result: PageResult, messages: Iterator[tuple[str, dict[str, Any]]], as_of: str, where: str
) -> None:
    for message_type, message in messages:
        try:
            result.events.append(query_event(message_type, message, as_of))
        except ValidationError as exc:
            result.problems.append(f"{where}: {exc}")


def _node_failed(result: PageResult, where: str, exc: Exception) -> None:
    """A node the page-state code could not handle: skipped and counted, the page goes on."""
    result.problems.append(f"{where}: skipped: internal error: {type(exc).__name__}: {exc}")
    _log.warning("%s: unexpected error", where, exc_info=True)


def _withheld(result: PageResult, where: str) -> None:
    result.problems.append(
        f"{where}: under a GraphQL error: no reference records (its nulls may mean 'failed')"
    )


def products_page_state(
    nodes: list[Any], as_of: str, partial: frozenset[int] = frozenset()
) -> PageResult:
    """Typed events and reference records of a ``products`` page's nodes.

    ``partial`` = indexes of nodes a GraphQL error reaches into: their typed events (built
    from the values present) are kept, their reference records withheld.
    """
    result = PageResult("products")
    with localcontext(_DECIMALS):
        for index, node in enumerate(nodes):
            where = f"products[{index}]"
            try:
                details = node.get("type") if isinstance(node, dict) else None
                if not isinstance(details, dict):
                    result.problems.append(f"{where}: not a BettingProduct node")
                    continue
                messages = _product_messages(node.get("id"), details, result.problems, where)
                _add_events(result, messages, as_of, where)
                if index in partial:
                    _withheld(result, where)
                    continue
                try:
                    result.reference += _product_reference(
                        node, details, as_of, result.problems, where
                    )
                except ValueError as exc:
                    result.problems.append(f"{where}: reference: {exc}")
            except Exception as exc:  # noqa: BLE001 - one node, the page goes on
                _node_failed(result, where, exc)
    return result


def events_page_state(
    nodes: list[Any], as_of: str, partial: frozenset[int] = frozenset()
) -> PageResult:
    """Typed events and reference records of an ``events`` page's nodes (``partial``: as for
    :func:`products_page_state`)."""
    result = PageResult("events")
    with localcontext(_DECIMALS):
        for index, node in enumerate(nodes):
            where = f"events[{index}]"
            try:
                if not isinstance(node, dict):
                    result.problems.append(f"{where}: not an Event node")
                    continue
                messages = _event_messages(node.get("id"), node, result.problems, where)
                _add_events(result, messages, as_of, where)
                if index in partial:
                    _withheld(result, where)
                    continue
                try:
                    result.reference += _event_reference(node, as_of, result.problems, where)
                except ValueError as exc:
                    result.problems.append(f"{where}: reference: {exc}")
            except Exception as exc:  # noqa: BLE001 - one node, the page goes on
                _node_failed(result, where, exc)
    return result


_STATE: dict[str, Callable[[list[Any], str, frozenset[int]], PageResult]] = {
    "products": products_page_state,
    "events": events_page_state,
}


def process_page(data: bytes, attributes: Mapping[str, str]) -> PageResult:
    """Everything one ingress page yields; :class:`PageError` when it yields nothing usable."""
    operation = attributes.get(ingress.ATTR_OPERATION) or ""
    if operation not in queries.OPERATIONS:
        raise PageError(
            "contract",
            f"query page with unknown operation {operation[:100]!r}; expected one of "
            f"{sorted(queries.OPERATIONS)}",
        )
    started = attributes.get(ingress.ATTR_REQUEST_STARTED_AT)
    if not started:
        raise PageError("contract", f"missing ingress attribute: {ingress.ATTR_REQUEST_STARTED_AT}")
    try:
        as_of = ingress.canonical_timestamp(started)
    except (ValueError, ArithmeticError) as exc:  # OverflowError: out of range once in UTC
        reason = f"{ingress.ATTR_REQUEST_STARTED_AT}: {exc} ({started[:60]!r})"
        raise PageError("contract", reason) from exc
    page = parse_page(data, operation)
    result = _STATE[operation](page.nodes, as_of, page.partial)
    result.errors = page.errors
    return result


def _count(name: str, n: int) -> None:
    """A Beam counter (``tote/<name>``) when running in a pipeline; a no-op elsewhere."""
    from apache_beam.metrics import Metrics

    Metrics.counter("tote", name).inc(n)


def page_frame(
    data: bytes, attrs: dict[str, str], frame_id: str, received_at: str, ingested_at: str
) -> Frame:
    """The :class:`~pipeline.records.Frame` of a query page (``pipeline.core``'s query branch).

    Never raises.  A page that yields nothing is a dead-letter frame (an unexpected error is an
    ``internal`` one with the trace, as ``pipeline.core`` builds them); otherwise its events and
    reference records ride on one frame (keyed on a bounded shard: a page is no single
    entity).  Partial GraphQL errors and skipped nodes are logged with the page's request id
    and counted (``query_page_graphql_errors``, ``query_page_skipped_nodes``).
    """
    operation = attrs.get(ingress.ATTR_OPERATION)
    message_type = PAGE_MESSAGE_TYPES.get(operation or "")
    frame = Frame(
        data=data,
        attributes=attrs,
        frame_id=frame_id,
        received_at=received_at,
        dedup_key=dedup.shard_key(message_type or "query", frame_id),
        message_type=message_type,
        ingested_at=ingested_at,
    )
    try:
        result = process_page(data, attrs)
        _report(result, attrs, frame_id)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a dead letter with its trace
        if isinstance(exc, PageError):
            dead = DeadLetter(exc.stage, exc.reason)
        else:  # a bug, not bad input: keep the page and the trace all the same
            dead = DeadLetter("internal", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        frame.dedup_key = dedup.shard_key("dead", frame_id)
        frame.dead_letter = dead
        return frame
    frame.events = result.events
    frame.reference = result.reference
    return frame


def _report(result: PageResult, attrs: Mapping[str, str], frame_id: str) -> None:
    """Log and count a processed page's GraphQL errors and skipped nodes (or parts of nodes)."""
    if not (result.errors or result.problems):
        return
    where = (
        f"query page {result.operation} #{attrs.get(ingress.ATTR_PAGE)} of sweep "
        f"{attrs.get(ingress.ATTR_SWEEP_ID)} (request {attrs.get(ingress.ATTR_REQUEST_ID)}, "
        f"frame {frame_id})"
    )
    if result.errors:
        _count("query_page_graphql_errors", len(result.errors))
        _log.warning(
            "%s: partial response, %d GraphQL error(s): %s",
            where,
            len(result.errors),
            "; ".join(result.errors)[:2000],
        )
    if result.problems:
        _count("query_page_skipped_nodes", len(result.problems))
        _log.warning(
            "%s: %d unusable node(s) or part(s) skipped: %s",
            where,
            len(result.problems),
            "; ".join(result.problems)[:2000],
        )
