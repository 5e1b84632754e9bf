"""Hostile query pages: ``pipeline.query_pages.page_frame`` never raises.

The query branch of ``pipeline.core.process_frame`` calls ``page_frame`` directly, so whatever a
page holds must come back as a frame: a bad value is a counted problem (the rest of the page is
processed), a page that cannot be read is a dead letter with its stage, and anything unexpected
is an ``internal`` dead letter with the trace.  Every row a page yields fits the catalog schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from contract import catalog, ingress
from devstack.insert_validation import row_problems
from pipeline import dedup, query_pages, records
from pipeline.query_pages import page_frame, process_page
from pipeline.transforms import table_for_row
from testsupport import query_examples as q

STARTED = datetime(2026, 1, 31, 19, 20, 5, 250000, tzinfo=UTC)
NOW = "2026-01-31T19:20:06.000Z"
INT64_MAX = 2**63 - 1
DEAD_LETTER_STAGES = {"parse", "validate", "contract", "graphql_error", "internal"}


def frame_of(data: bytes, attrs: dict[str, str]) -> records.Frame:
    return page_frame(data, attrs, attrs[ingress.ATTR_FRAME_ID], NOW, NOW)


def message(body: Any, operation: str) -> tuple[bytes, dict[str, str]]:
    return q.query_page_message(body, operation, request_started_at=STARTED)


def assert_rows_fit(frame: records.Frame) -> None:
    """Every row and message of ``frame`` is one BigQuery and Pub/Sub accept."""
    rows = [records.typed_row(frame, e) for e in frame.events]
    rows += [records.reference_row(frame, r) for r in frame.reference]
    for row in rows:
        table = table_for_row(row)
        assert row_problems(row, catalog.table_schema(table)) == [], (table, row)
        for column in catalog.TABLES[table].columns:
            if column.bq_type == "INTEGER" and row.get(column.name) is not None:
                assert -INT64_MAX - 1 <= row[column.name] <= INT64_MAX, (column.name, row)
    for typed in frame.events:
        records.typed_message(frame, typed)
    for record in frame.reference:
        records.reference_message(frame, record)


# --- the reviewer's cases ----------------------------------------------------------------------


def test_a_deeply_nested_page_is_a_parse_dead_letter():
    data = b'{"data": {"products": {"nodes": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}}"
    _, attrs = message(q.products_page(), "products")
    frame = frame_of(data, attrs)
    assert frame.dead_letter is not None and frame.dead_letter.stage == "parse"
    assert "nested too deeply" in frame.dead_letter.reason
    assert (frame.events, frame.reference) == ([], [])


def test_an_amount_beyond_the_default_decimal_precision_stays_exact():
    raw = (
        json.dumps(q.products_page(q.product_node(gross=1)))
        .replace('"decimalAmount": 1,', '"decimalAmount": 12345678901234567890.1234567891,')
        .encode()
    )
    result = process_page(*message(raw, "products"))
    (total,) = [e for e in result.events if e.message_type == "PoolTotalChanged"]
    assert total.values["gross_amounts"] == [
        {"amount": "12345678901234567890.123456789", "currency": "GBP"}
    ]
    assert result.problems == []


@pytest.mark.parametrize(
    "value",
    [
        "Infinity",
        "-Infinity",
        "sNaN",
        "NaN",
        "1e400",
        "1e999999999",  # int() of it would build a billion-digit number
        2**70,
        "9223372036854775808",
        "-9223372036854775809",
        "3.5",
        "1e-999999999",
    ],
)
def test_an_unusable_cloth_number_is_null_and_a_counted_problem(value):
    node = q.event_node(competitors=[q.competitor_node(cloth_number=7)])
    node["eventCompetitors"]["nodes"][0]["details"]["clothNumber"] = value
    result = process_page(*message(q.events_page(node), "events"))
    (competitor,) = [r for r in result.reference if r.kind == "competitor"]
    assert competitor.values["cloth_number"] is None
    assert competitor.values["name"] == "SHE'S A JOKER"  # the rest of the runner is kept
    assert any("clothNumber" in p for p in result.problems), result.problems


@pytest.mark.parametrize("value", ["7", 7, Decimal("7"), "7.0"])
def test_a_cloth_number_as_an_integer_or_integral_text_is_kept(value):
    node = q.event_node(competitors=[q.competitor_node(cloth_number=1)])
    node["eventCompetitors"]["nodes"][0]["details"]["clothNumber"] = value
    data = json.dumps(q.events_page(node), default=str).encode()
    result = process_page(*message(data, "events"))
    (competitor,) = [r for r in result.reference if r.kind == "competitor"]
    assert competitor.values["cloth_number"] == 7 and result.problems == []


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "x"])
def test_an_unusable_scheduled_start_is_null_and_a_counted_problem(start):
    result = process_page(*message(q.events_page(q.event_node(start=start)), "events"))
    event = next(r for r in result.reference if r.kind == "event")
    assert event.values["scheduled_start"] is None
    assert event.values["venue"] == "Newcastle"
    assert any("scheduledStartDateTime" in p for p in result.problems), result.problems


@pytest.mark.parametrize("started", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_out_of_range_request_start_is_a_contract_dead_letter(started):
    data, attrs = message(q.products_page(), "products")
    attrs[ingress.ATTR_REQUEST_STARTED_AT] = started
    frame = frame_of(data, attrs)
    assert frame.dead_letter is not None and frame.dead_letter.stage == "contract"
    assert ingress.ATTR_REQUEST_STARTED_AT in frame.dead_letter.reason


def test_an_unexpected_error_is_an_internal_dead_letter_with_the_trace(monkeypatch):
    def broken(nodes, as_of, errors):
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setitem(query_pages._STATE, "products", broken)
    data, attrs = message(q.products_page(), "products")
    frame = frame_of(data, attrs)
    assert frame.dead_letter is not None and frame.dead_letter.stage == "internal"
    assert frame.dead_letter.reason == "RuntimeError: a bug, not bad input"
    trace = frame.dead_letter.stack_trace
    assert trace is not None and "Traceback" in trace and "broken" in trace
    assert frame.dedup_key == dedup.shard_key("dead", attrs[ingress.ATTR_FRAME_ID])
    assert (frame.events, frame.reference) == ([], [])
    row = records.frame_dead_letter_row(frame)
    assert row["stage"] == "internal" and row["data_text"] == data.decode()


def test_an_unexpected_error_in_one_node_skips_that_node_only(monkeypatch):
    real = query_pages._event_reference

    def flaky(node, as_of, problems, where):
        if node.get("id") == "BROKEN":
            raise RuntimeError("boom")
        return real(node, as_of, problems, where)

    monkeypatch.setattr(query_pages, "_event_reference", flaky)
    page = q.events_page(q.event_node("BROKEN"), q.event_node())
    result = process_page(*message(page, "events"))
    assert [r.entity_id for r in result.reference if r.kind == "event"] == [q.EVENT_ID]
    assert any("events[0]" in p and "RuntimeError: boom" in p for p in result.problems)


# --- N3: only strings become text ---------------------------------------------------------------


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], True, 12.5])
def test_a_name_that_is_not_a_string_is_null_and_a_counted_problem(value):
    result = process_page(*message(q.events_page(q.event_node(name=value)), "events"))
    event = next(r for r in result.reference if r.kind == "event")
    assert event.values["name"] is None and event.values["venue"] == "Newcastle"
    assert any("name" in p and "expected a string" in p for p in result.problems)


@pytest.mark.parametrize("value", [{"code": "WIN"}, ["WIN"], True, ""])
def test_an_enum_that_is_not_a_string_is_null_and_a_counted_problem(value):
    node = q.product_node()
    node["type"]["betType"]["code"] = value
    result = process_page(*message(q.products_page(node), "products"))
    product = next(r for r in result.reference if r.kind == "product")
    assert product.values["bet_type"] is None and product.values["selling_status"] == "OPEN"
    assert any("betType" in p for p in result.problems)


def test_an_enum_may_be_an_integer():
    node = q.event_node()
    node["venue"]["country"]["alpha2Code"] = 44
    result = process_page(*message(q.events_page(node), "events"))
    event = next(r for r in result.reference if r.kind == "event")
    assert event.values["country"] == "44" and result.problems == []


# --- property: hostile pages ---------------------------------------------------------------------

_hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.decimals(allow_nan=False, allow_infinity=False, places=12, max_value=10**25),
    st.text(max_size=12),
    st.sampled_from(
        [
            "Infinity",
            "-Infinity",
            "sNaN",
            "NaN",
            "1e400",
            "1e999999999",
            "12345678901234567890.1234567891",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-02-30T10:00:00Z",
            "",
            " ",
            "\x00",
            "Active",
        ]
    ),
)
_hostile = st.recursive(
    _hostile_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _hostile_one_in(n: int, valid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid``, replaced by a hostile value one time in ``n`` (``one_of`` would be 50/50)."""
    return st.integers(0, n - 1).flatmap(lambda i: valid if i else _hostile)


def _or_hostile(valid: st.SearchStrategy) -> st.SearchStrategy:
    return _hostile_one_in(5, valid)


def _rarely_hostile(valid: st.SearchStrategy) -> st.SearchStrategy:
    """For the page's frame (data, connection, nodes): hostile often enough, valid mostly."""
    return _hostile_one_in(12, valid)


def _obj(**fields: st.SearchStrategy) -> st.SearchStrategy:
    return _or_hostile(st.fixed_dictionaries(fields))


def _connection(node: st.SearchStrategy) -> st.SearchStrategy:
    return _obj(nodes=_or_hostile(st.lists(st.one_of(node, st.none()), max_size=3)))


def _text(*examples: str) -> st.SearchStrategy:
    return _or_hostile(st.sampled_from(examples))


_amount = _or_hostile(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=0, max_value=10**6)
)
_money = _obj(decimalAmount=_amount, currency=_obj(code=_text("GBP", "eur")))
_uuid = _text(q.PRODUCT_ID, q.LEG_ID, q.SELECTION_ID, q.SELECTION_2_ID, " A-UUID ")
_slug = _text(q.EVENT_ID, q.COMPETITOR_ID, q.COMPETITOR_2_ID)
_selection = _obj(
    id=_uuid,
    name=_text("SHE'S A JOKER"),
    status=_text("AVAILABLE", "NOT_AVAILABLE", "Active"),
    competitor=_obj(id=_slug),
)
_leg = _obj(id=_uuid, event=_obj(id=_slug), selections=_connection(_selection))
_dividend_line = _obj(
    dividend=_obj(
        name=_text("Base"), type=_text("POOL"), status=_text("FINAL"), amount=_or_hostile(_money)
    ),
    dividendLegs=_connection(
        _obj(
            id=_uuid,
            dividendSelections=_connection(_obj(id=_uuid, finishingPosition=_text("1", "2"))),
        )
    ),
)
_product = _obj(
    id=_uuid,
    name=_text("NEWCASTLE RACE 3 - WIN"),
    type=_obj(
        betType=_obj(code=_text("WIN", "PLACEPOT")),
        selling=_obj(status=_text("OPEN", "CLOSED")),
        pool=_obj(total=_obj(grossAmount=_money, netAmount=_money)),
        legs=_connection(_leg),
        result=_obj(status=_text("FINAL"), dividends=_connection(_dividend_line)),
    ),
)
_competitor = _obj(
    id=_slug,
    name=_text("DANCING BRAVE"),
    entryStatus=_text("CONFIRMED", "WITHDRAWN"),
    details=_obj(clothNumber=_text("3", "7"), trapNumber=_text("4")),
)
_event = _obj(
    id=_slug,
    name=_text("NEWCASTLE 19:25"),
    status=_text("SCHEDULED", "FINISHED"),
    scheduledStartDateTime=_obj(iso8601=_text(q.SCHEDULED_START, "2026-07-01T14:00:00+01:00")),
    venue=_obj(name=_text("Newcastle"), country=_obj(alpha2Code=_text("GB"))),
    eventCompetitors=_connection(_competitor),
    result=_obj(
        status=_text("FINAL", "PENDING"),
        results=_connection(
            _obj(id=_slug, name=_text("X"), finishingPosition=_text("1"), status=_text("FINAL"))
        ),
    ),
)
_errors = st.one_of(
    st.none(),
    _hostile,
    st.lists(
        _obj(
            message=_text("pool service timed out"),
            path=_or_hostile(
                st.lists(
                    st.one_of(st.sampled_from(["products", "events", "nodes"]), st.integers(0, 3))
                )
            ),
        ),
        max_size=2,
    ),
)


@st.composite
def _hostile_page(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    operation = draw(st.sampled_from(["products", "events"]))
    node = _product if operation == "products" else _event
    nodes = _rarely_hostile(st.lists(node, max_size=3))
    connection = _rarely_hostile(st.fixed_dictionaries({"nodes": nodes}))
    body: dict[str, Any] = {
        "data": draw(_rarely_hostile(st.fixed_dictionaries({operation: connection})))
    }
    errors = draw(st.integers(0, 3).flatmap(lambda i: _errors if i == 0 else st.none()))
    if errors is not None:
        body["errors"] = errors
    as_numbers = draw(st.booleans())  # Decimals as JSON numbers (as the gateway sends) or text
    data, attrs = message(
        json.dumps(body, default=float if as_numbers else str).encode(), operation
    )
    attribute = draw(  # mostly good attributes, so most pages reach their nodes
        st.integers(0, 7).map(
            lambda i: {6: ingress.ATTR_REQUEST_STARTED_AT, 7: ingress.ATTR_OPERATION}.get(i)
        )
    )
    if attribute is not None:
        attrs[attribute] = draw(st.one_of(st.text(max_size=30), _hostile_scalar.map(str)))
    return data, attrs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_page())
def test_page_frame_never_raises_and_every_row_fits(page):
    data, attrs = page
    frame = frame_of(data, attrs)
    assert frame.data == data and frame.frame_id == attrs[ingress.ATTR_FRAME_ID]
    event(f"dead letter: {frame.dead_letter.stage}" if frame.dead_letter else "processed")
    event(f"rows: {'some' if frame.events or frame.reference else 'none'}")
    if frame.dead_letter is not None:
        assert frame.dead_letter.stage in DEAD_LETTER_STAGES - {"internal"}, frame.dead_letter
        assert (frame.events, frame.reference) == ([], [])
        assert (
            row_problems(
                records.frame_dead_letter_row(frame),
                catalog.table_schema(catalog.DEAD_LETTER_TABLE),
            )
            == []
        )
    else:
        assert_rows_fit(frame)
        # Hostile values are bad input, handled by validation: never by the per-node safety net.
        problems = process_page(data, attrs).problems
        assert [p for p in problems if "internal error" in p] == []
