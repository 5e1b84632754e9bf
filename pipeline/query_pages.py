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
  there), so consumers and deduplication compare provided columns only;
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
* a node that cannot be used (no id, a required value missing, a wrong type) is skipped and
  reported in :attr:`PageResult.problems`; the rest of the page is processed;
* a body that is JSON but not a GraphQL response → ``validate`` dead letter.

The page text is always kept in ``raw_frames`` (as every frame is), so nothing is lost: a skipped
node can be re-read from there.  Unknown fields are ignored.  Plain functions, no Beam.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contract import catalog, ingress, queries
from pipeline import dedup
from pipeline.normalize import ValidationError, lookup, normalize
from pipeline.records import DeadLetter, Frame, ReferenceRecord, TypedEvent, canonical_json

__all__ = [
    "PAGE_MESSAGE_TYPES",
    "PageError",
    "PageResult",
    "events_page_state",
    "graphql_errors",
    "page_frame",
    "parse_page",
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
    """Nodes (or parts of nodes) skipped as unusable, one line each."""


# --- parsing ---------------------------------------------------------------------------------------


def graphql_errors(errors: Any) -> list[str]:
    """A response's ``errors`` as one line each: message, ``[code]`` and path when given."""
    out = []
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            out.append(str(error))
            continue
        line = str(error.get("message", error))
        code = _get(error, "extensions", "code")
        if code:
            line += f" [{code}]"
        if isinstance(error.get("path"), list):
            line += " at " + ".".join(str(p) for p in error["path"])
        out.append(line)
    return out


def parse_page(data: bytes, operation: str) -> tuple[list[Any], list[str]]:
    """``(nodes, graphql_errors)`` of a response body; :class:`PageError` when there is no data.

    Numbers are parsed as ``Decimal`` (money is exact).  ``data.<operation>.nodes`` may be empty
    (a day without racing); ``errors`` without that data is a ``graphql_error``.
    """
    try:
        body = _DECODER.decode(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PageError("parse", f"query page is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PageError("parse", f"query page is not JSON: {exc}") from exc
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
    return nodes, errors


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
        fingerprint=dedup.fingerprint_text(payload_json),
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


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _money_list(money: Any) -> list[Any] | None:
    return [money] if isinstance(money, dict) else None


def _product_messages(product_id: Any, details: dict[str, Any]) -> Iterator[tuple[str, dict]]:
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
    lines = _nodes(_get(details, "result", "dividends"))
    if lines:
        dividends = [
            {
                "dividend": _get(line, "dividend"),
                "legs": [
                    {
                        "legId": _get(leg, "id"),
                        "selections": [
                            {"id": _get(s, "id"), "finishingPosition": _get(s, "finishingPosition")}
                            for s in _nodes(_get(leg, "dividendSelections"))
                        ],
                    }
                    for leg in _nodes(_get(line, "dividendLegs"))
                ],
            }
            for line in lines
        ]
        yield "PoolDividendChanged", {"productId": product_id, "dividends": dividends}


def _event_messages(event_id: Any, node: dict[str, Any]) -> Iterator[tuple[str, dict]]:
    """Subscription-shaped messages of one event node."""
    if node.get("status") is not None:
        yield "EventStatusChanged", {"eventId": event_id, "status": node["status"]}
    result = node.get("result")
    if isinstance(result, dict):
        results = [
            {
                "competitorId": _get(r, "id"),
                "finishingPosition": _get(r, "finishingPosition"),
                "status": _get(r, "status"),
            }
            for r in _nodes(result.get("results"))
        ]
        # A PENDING result without positions says nothing the subscriptions would send.
        if results or (result.get("status") or "PENDING") != "PENDING":
            message: dict[str, Any] = {"eventId": event_id, "competitorResults": results}
            if result.get("status") is not None:
                message["status"] = result["status"]
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


def _id(value: Any, what: str) -> str:
    """A UUID-like id, stripped and lower-cased (as ``Kind.ID`` normalises it)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: missing or not a string: {value!r}")
    return value.strip().lower()


def _slug(value: Any, what: str) -> str:
    """A readable id (event, competitor), stripped, case kept (as ``Kind.SLUG``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what}: missing or not a string: {value!r}")
    return value.strip()


def _opt_slug(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _opt_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_enum(value: Any) -> str | None:
    return str(value).strip().upper() if value is not None and str(value).strip() else None


def _opt_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return int(number) if number == number.to_integral_value() else None


def _timestamp(value: Any) -> str | None:
    """An ISO 8601 instant as the contract's RFC 3339 UTC text; ``None`` when absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return ingress.format_timestamp(ingress.parse_timestamp(value))
    except ValueError:
        return None


_REFERENCE_KEYS = {
    kind: tuple(c.name for c in columns) for kind, columns in catalog.REFERENCE_COLUMNS.items()
}


def _record(kind: str, entity_id: str, as_of: str, values: dict, event_id: str | None) -> Any:
    assert tuple(values) == _REFERENCE_KEYS[kind], kind
    return ReferenceRecord(kind, entity_id, catalog.REFERENCE_TABLES[kind], as_of, values, event_id)


def _product_reference(node: dict, details: dict, as_of: str) -> list[ReferenceRecord]:
    product_id = _id(node.get("id"), "product.id")
    legs = [leg for leg in _nodes(_get(details, "legs")) if isinstance(leg, dict)]
    leg_ids = [_id(leg.get("id"), "leg.id") for leg in legs]
    event_ids = [_opt_slug(_get(leg, "event", "id")) for leg in legs]
    total = _get(details, "pool", "total") or {}
    currency = _get(total, "grossAmount", "currency", "code") or _get(
        total, "netAmount", "currency", "code"
    )
    first_event = next((e for e in event_ids if e), None)
    out = [
        _record(
            "product",
            product_id,
            as_of,
            {
                "product_id": product_id,
                "name": _opt_text(node.get("name")),
                "bet_type": _opt_enum(_get(details, "betType", "code")),
                "selling_status": _opt_enum(_get(details, "selling", "status")),
                "currency": _opt_enum(currency),
                "event_id": first_event,
                "event_ids": [e for e in event_ids if e],
                "leg_ids": leg_ids,
            },
            first_event,
        )
    ]
    for number, (leg, leg_id, event_id) in enumerate(
        zip(legs, leg_ids, event_ids, strict=True), start=1
    ):
        out.append(
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
        for selection in _nodes(leg.get("selections")):
            selection_id = _id(_get(selection, "id"), "selection.id")
            out.append(
                _record(
                    "selection",
                    selection_id,
                    as_of,
                    {
                        "selection_id": selection_id,
                        "product_id": product_id,
                        "leg_id": leg_id,
                        "event_id": event_id,
                        "name": _opt_text(_get(selection, "name")),
                        "competitor_id": _opt_slug(_get(selection, "competitor", "id")),
                        "status": _opt_enum(_get(selection, "status")),
                    },
                    event_id,
                )
            )
    return out


def _event_reference(node: dict, as_of: str) -> list[ReferenceRecord]:
    event_id = _slug(node.get("id"), "event.id")
    out = [
        _record(
            "event",
            event_id,
            as_of,
            {
                "event_id": event_id,
                "name": _opt_text(node.get("name")),
                "venue": _opt_text(_get(node, "venue", "name")),
                "country": _opt_enum(_get(node, "venue", "country", "alpha2Code")),
                "scheduled_start": _timestamp(_get(node, "scheduledStartDateTime", "iso8601")),
                "status": _opt_enum(node.get("status")),
            },
            event_id,
        )
    ]
    for competitor in _nodes(node.get("eventCompetitors")):
        competitor_id = _slug(_get(competitor, "id"), "competitor.id")
        details = _get(competitor, "details")
        out.append(
            _record(
                "competitor",
                competitor_id,
                as_of,
                {
                    "competitor_id": competitor_id,
                    "event_id": event_id,
                    "name": _opt_text(_get(competitor, "name")),
                    "entry_status": _opt_enum(_get(competitor, "entryStatus")),
                    "cloth_number": _opt_int(_get(details, "clothNumber")),
                    "trap_number": _opt_int(_get(details, "trapNumber")),
                },
                event_id,
            )
        )
    return out


# --- one page --------------------------------------------------------------------------------------


def _add_events(
    result: PageResult, messages: Iterator[tuple[str, dict]], as_of: str, where: str
) -> None:
    for message_type, message in messages:
        try:
            result.events.append(query_event(message_type, message, as_of))
        except ValidationError as exc:
            result.problems.append(f"{where}: {exc}")


def products_page_state(nodes: list[Any], as_of: str) -> PageResult:
    """Typed events and reference records of a ``products`` page's nodes."""
    result = PageResult("products")
    for index, node in enumerate(nodes):
        where = f"products[{index}]"
        details = node.get("type") if isinstance(node, dict) else None
        if not isinstance(details, dict):
            result.problems.append(f"{where}: not a BettingProduct node")
            continue
        _add_events(result, _product_messages(node.get("id"), details), as_of, where)
        try:
            result.reference += _product_reference(node, details, as_of)
        except ValueError as exc:
            result.problems.append(f"{where}: reference: {exc}")
    return result


def events_page_state(nodes: list[Any], as_of: str) -> PageResult:
    """Typed events and reference records of an ``events`` page's nodes."""
    result = PageResult("events")
    for index, node in enumerate(nodes):
        where = f"events[{index}]"
        if not isinstance(node, dict):
            result.problems.append(f"{where}: not an Event node")
            continue
        _add_events(result, _event_messages(node.get("id"), node), as_of, where)
        try:
            result.reference += _event_reference(node, as_of)
        except ValueError as exc:
            result.problems.append(f"{where}: reference: {exc}")
    return result


_STATE: dict[str, Callable[[list[Any], str], PageResult]] = {
    "products": products_page_state,
    "events": events_page_state,
}


def process_page(data: bytes, attributes: Mapping[str, str]) -> PageResult:
    """Everything one ingress page yields; :class:`PageError` when it yields nothing usable."""
    operation = attributes.get(ingress.ATTR_OPERATION) or ""
    if operation not in queries.OPERATIONS:
        raise PageError(
            "contract",
            f"query page with unknown operation {operation!r}; expected one of "
            f"{sorted(queries.OPERATIONS)}",
        )
    started = attributes.get(ingress.ATTR_REQUEST_STARTED_AT)
    if not started:
        raise PageError("contract", f"missing ingress attribute: {ingress.ATTR_REQUEST_STARTED_AT}")
    try:
        as_of = ingress.canonical_timestamp(started)
    except ValueError as exc:
        raise PageError("contract", f"{ingress.ATTR_REQUEST_STARTED_AT}: {exc}") from exc
    nodes, errors = parse_page(data, operation)
    result = _STATE[operation](nodes, as_of)
    result.errors = errors
    return result


def _count(name: str, n: int) -> None:
    """A Beam counter (``tote/<name>``) when running in a pipeline; a no-op elsewhere."""
    from apache_beam.metrics import Metrics

    Metrics.counter("tote", name).inc(n)


def page_frame(
    data: bytes, attrs: dict[str, str], frame_id: str, received_at: str, ingested_at: str
) -> Frame:
    """The :class:`~pipeline.records.Frame` of a query page (``pipeline.core``'s query branch).

    A page that yields nothing is a dead-letter frame; otherwise its events and reference
    records ride on one frame (keyed on a bounded shard: a page is no single entity).  Partial
    GraphQL errors and skipped nodes are logged with the page's request id and counted
    (``query_page_graphql_errors``, ``query_page_skipped_nodes``).
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
    except PageError as exc:
        frame.dedup_key = dedup.shard_key("dead", frame_id)
        frame.dead_letter = DeadLetter(exc.stage, exc.reason)
        return frame
    where = (
        f"query page {operation} #{attrs.get(ingress.ATTR_PAGE)} of sweep "
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
            "%s: %d unusable node(s) skipped: %s",
            where,
            len(result.problems),
            "; ".join(result.problems)[:2000],
        )
    frame.events = result.events
    frame.reference = result.reference
    return frame
