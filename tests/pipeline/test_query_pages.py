"""Query pages → typed events and reference records (``pipeline.query_pages``), through
``pipeline.core.process_frame`` as the pipeline runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contract import catalog, ingress
from devstack.insert_validation import row_problems
from pipeline import records
from pipeline.core import process_frame
from pipeline.query_pages import PAGE_MESSAGE_TYPES, graphql_errors, partial_nodes, process_page
from pipeline.transforms import table_for_row
from tests.catalog_types import message_type
from testsupport import examples
from testsupport import query_examples as q

STARTED = datetime(2026, 1, 31, 19, 20, 5, 250000, tzinfo=UTC)
STARTED_TEXT = "2026-01-31T19:20:05.250Z"


def page(body: dict[str, Any] | bytes, operation: str, **kwargs) -> records.Frame:
    data, attrs = q.query_page_message(body, operation, request_started_at=STARTED, **kwargs)
    return process_frame(data, attrs)


def streamed(name: str, message: dict[str, Any]) -> records.TypedEvent:
    """The typed event of the same state arriving on the subscription."""
    data, attrs = examples.ingress_message(examples.frame(name, message))
    frame = process_frame(data, attrs)
    assert frame.dead_letter is None and frame.event is not None, frame.dead_letter
    return frame.event


def by_type(frame: records.Frame, name: str) -> list[records.TypedEvent]:
    return [e for e in frame.events if e.message_type == name]


def fits(row: dict[str, Any]) -> None:
    assert row_problems(row, catalog.table_schema(table_for_row(row))) == []


RESULTED_PRODUCT = q.product_node(
    selling_status="CLOSED",
    result_status="FINAL",
    dividends=[q.dividend_line("Base", "PROVISIONAL", 12.7)],
)
RESULTED_EVENT = q.event_node(
    status="FINISHED",
    result_status="PROVISIONAL",
    results=[(q.COMPETITOR_ID, "1", "PROVISIONAL")],
)


# --- current state equals the streamed state ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "operation", "node", "message"),
    [
        (
            "PoolTotalChanged",
            "products",
            q.product_node(),
            examples.example_message("PoolTotalChanged"),
        ),
        (
            "ProductStatusChanged",
            "products",
            q.product_node(selling_status="CLOSED"),
            examples.example_message("ProductStatusChanged", status="CLOSED"),
        ),
        (
            "SelectionStatusChanged",
            "products",
            q.product_node(),
            examples.example_message("SelectionStatusChanged", status="AVAILABLE"),
        ),
        (
            "PoolDividendChanged",
            "products",
            RESULTED_PRODUCT,
            examples.example_message("PoolDividendChanged"),
        ),
        (
            "EventStatusChanged",
            "events",
            RESULTED_EVENT,
            examples.example_message("EventStatusChanged", status="FINISHED"),
        ),
        (
            "EventResultChanged",
            "events",
            RESULTED_EVENT,
            examples.example_message("EventResultChanged"),
        ),
        (
            "CompetitorStatusChanged",
            "events",
            q.event_node(competitors=[q.competitor_node(entry_status="WITHDRAWN")]),
            examples.example_message("CompetitorStatusChanged"),
        ),
    ],
)
def test_query_state_normalises_to_the_streamed_values_and_key(name, operation, node, message):
    frame = page(q.page(operation, [node]), operation)
    stream = streamed(name, message)
    (event,) = [e for e in by_type(frame, name) if e.key == stream.key]
    assert event.values == {k: v for k, v in stream.values.items() if k in event.values}
    assert (event.source, event.as_of) == (ingress.SOURCE_QUERY, STARTED_TEXT)
    assert stream.source == ingress.SOURCE_SUBSCRIPTION
    spec = message_type(name)
    assert set(spec.key_columns) <= set(event.values)


def test_what_the_query_does_not_know_is_omitted_not_invented():
    frame = page(q.products_page(), "products")
    (total,) = by_type(frame, "PoolTotalChanged")
    assert "is_finalized" not in total.values
    assert total.message == {
        "productId": q.PRODUCT_ID,
        "total": {
            "grossAmounts": [q.money(total.message["total"]["grossAmounts"][0]["decimalAmount"])],
            "netAmounts": [q.money(total.message["total"]["netAmounts"][0]["decimalAmount"])],
        },
    }
    row = records.typed_row(frame, total)
    assert "is_finalized" not in row and row["source"] == "query" and row["as_of"] == STARTED_TEXT
    topic, data, attrs = records.typed_message(frame, total)
    body = json.loads(data)
    assert topic == "tote-pool-total-changed"
    assert "is_finalized" not in body["data"] and body["source"] == "query"
    assert (attrs["source"], attrs["as_of"], attrs["product_id"]) == (
        "query",
        STARTED_TEXT,
        q.PRODUCT_ID,
    )


def test_a_null_net_amount_leaves_only_the_gross_total():
    frame = page(q.products_page(q.product_node(net=None)), "products")
    (total,) = by_type(frame, "PoolTotalChanged")
    assert set(total.values) == {"product_id", "gross_amounts"}


def test_money_stays_exact():
    raw = (
        json.dumps(q.products_page(q.product_node(gross=1, net=2)))
        .replace('"decimalAmount": 1,', '"decimalAmount": 1881.80,')
        .replace('"decimalAmount": 2,', '"decimalAmount": 0.30000000000000004,')
        .encode()
    )
    (total,) = by_type(page(raw, "products"), "PoolTotalChanged")
    assert total.values["gross_amounts"] == [{"amount": "1881.80", "currency": "GBP"}]
    assert total.values["net_amounts"] == [{"amount": "0.300000000", "currency": "GBP"}]


def test_every_typed_row_and_message_of_a_page_fits_the_catalog():
    for operation, node in (("products", RESULTED_PRODUCT), ("events", RESULTED_EVENT)):
        frame = page(q.page(operation, [node]), operation)
        assert frame.events
        for event in frame.events:
            fits(records.typed_row(frame, event))
            topic, _, attrs = records.typed_message(frame, event)
            assert topic == event.spec.topic and attrs["source"] == "query"
    names = {e.message_type for e in page(q.products_page(RESULTED_PRODUCT), "products").events}
    assert names == {
        "PoolTotalChanged",
        "ProductStatusChanged",
        "SelectionStatusChanged",
        "PoolDividendChanged",
    }
    names = {e.message_type for e in page(q.events_page(RESULTED_EVENT), "events").events}
    assert names == {"EventStatusChanged", "EventResultChanged", "CompetitorStatusChanged"}


def test_unresulted_products_and_pending_results_yield_no_result_events():
    products = page(q.products_page(q.product_node()), "products")
    assert by_type(products, "PoolDividendChanged") == []
    events = page(q.events_page(q.event_node(result_status="PENDING", results=[])), "events")
    assert by_type(events, "EventResultChanged") == []
    assert len(by_type(events, "CompetitorStatusChanged")) == 2


# --- reference records ---------------------------------------------------------------------------

EXPECTED_KEYS = {
    "event": ["event_id", "name", "venue", "country", "scheduled_start", "status"],
    "product": [
        "product_id",
        "name",
        "bet_type",
        "selling_status",
        "currency",
        "event_id",
        "event_ids",
        "leg_ids",
    ],
    "leg": ["leg_id", "product_id", "leg_number", "event_id"],
    "selection": [
        "selection_id",
        "product_id",
        "leg_id",
        "event_id",
        "name",
        "competitor_id",
        "status",
    ],
    "competitor": [
        "competitor_id",
        "event_id",
        "name",
        "entry_status",
        "cloth_number",
        "trap_number",
    ],
}


def test_reference_values_have_exactly_the_agreed_keys():
    assert {k: [c.name for c in cols] for k, cols in catalog.REFERENCE_COLUMNS.items()} == (
        EXPECTED_KEYS
    )
    frames = [page(q.products_page(), "products"), page(q.events_page(), "events")]
    seen = set()
    for frame in frames:
        for record in frame.reference:
            assert list(record.values) == EXPECTED_KEYS[record.kind]
            assert record.table == catalog.REFERENCE_TABLES[record.kind]
            assert record.as_of == STARTED_TEXT
            seen.add(record.kind)
    assert seen == set(catalog.REFERENCE_KINDS)


def test_products_page_reference_records():
    frame = page(q.products_page(), "products")
    by_kind: dict[str, list[records.ReferenceRecord]] = {}
    for record in frame.reference:
        by_kind.setdefault(record.kind, []).append(record)
    (product,) = by_kind["product"]
    assert product.values == {
        "product_id": q.PRODUCT_ID,
        "name": "NEWCASTLE RACE 3 - WIN",
        "bet_type": "WIN",
        "selling_status": "OPEN",
        "currency": "GBP",
        "event_id": q.EVENT_ID,
        "event_ids": [q.EVENT_ID],
        "leg_ids": [q.LEG_ID],
    }
    assert (product.entity_id, product.event_id) == (q.PRODUCT_ID, q.EVENT_ID)
    (leg,) = by_kind["leg"]
    assert leg.values == {
        "leg_id": q.LEG_ID,
        "product_id": q.PRODUCT_ID,
        "leg_number": 1,
        "event_id": q.EVENT_ID,
    }
    assert [s.values for s in by_kind["selection"]] == [
        {
            "selection_id": q.SELECTION_ID,
            "product_id": q.PRODUCT_ID,
            "leg_id": q.LEG_ID,
            "event_id": q.EVENT_ID,
            "name": "SHE'S A JOKER",
            "competitor_id": q.COMPETITOR_ID,
            "status": "AVAILABLE",
        },
        {
            "selection_id": q.SELECTION_2_ID,
            "product_id": q.PRODUCT_ID,
            "leg_id": q.LEG_ID,
            "event_id": q.EVENT_ID,
            "name": "DANCING BRAVE",
            "competitor_id": q.COMPETITOR_2_ID,
            "status": "NOT_AVAILABLE",
        },
    ]


def test_a_multi_leg_product_names_every_leg_in_order():
    event_2 = "HORSERACING-NEWCASTLE-GB-2026-01-31-2000"
    legs = [
        q.leg_node("AAAAAAAA-0000-4000-8000-000000000001", q.EVENT_ID, []),
        q.leg_node("aaaaaaaa-0000-4000-8000-000000000002", event_2, []),
    ]
    frame = page(q.products_page(q.product_node(bet_type="PLACEPOT", legs=legs)), "products")
    product = next(r for r in frame.reference if r.kind == "product")
    ids = ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"]
    assert product.values["leg_ids"] == ids  # lower-cased, as the subscriptions' ids are
    assert product.values["event_ids"] == [q.EVENT_ID, event_2]
    assert product.values["event_id"] == q.EVENT_ID
    assert [(r.values["leg_number"], r.values["event_id"]) for r in frame.reference[1:]] == [
        (1, q.EVENT_ID),
        (2, event_2),
    ]


def test_events_page_reference_records():
    node = q.event_node(
        start="2026-07-01T14:00:00+01:00",
        competitors=[q.competitor_node(cloth_number=None, trap_number=4)],
    )
    frame = page(q.events_page(node), "events")
    event, competitor = frame.reference
    assert event.values == {
        "event_id": q.EVENT_ID,
        "name": "NEWCASTLE 19:25",
        "venue": "Newcastle",
        "country": "GB",
        "scheduled_start": "2026-07-01T13:00:00.000Z",
        "status": "SCHEDULED",
    }
    assert competitor.values == {
        "competitor_id": q.COMPETITOR_ID,
        "event_id": q.EVENT_ID,
        "name": "SHE'S A JOKER",
        "entry_status": "CONFIRMED",
        "cloth_number": None,
        "trap_number": 4,
    }
    assert (competitor.entity_id, competitor.event_id) == (q.COMPETITOR_ID, q.EVENT_ID)


def test_reference_rows_and_messages_fit_the_catalog():
    for frame in (page(q.products_page(), "products"), page(q.events_page(), "events")):
        for record in frame.reference:
            row = records.reference_row(frame, record)
            assert table_for_row(row) == catalog.REFERENCE_TABLES[record.kind]
            fits(row)
            topic, data, attrs = records.reference_message(frame, record)
            assert topic == catalog.REFERENCE_TOPIC
            assert json.loads(data) == {
                "kind": record.kind,
                "id": record.entity_id,
                "as_of": STARTED_TEXT,
                "values": record.values,
            }
            assert (attrs["kind"], attrs["entity_id"], attrs["event_id"]) == (
                record.kind,
                record.entity_id,
                q.EVENT_ID,
            )


def test_the_page_is_kept_raw_under_its_page_type():
    data, attrs = q.query_page_message(q.products_page(), "products", request_started_at=STARTED)
    frame = process_frame(data, attrs)
    row = records.raw_row(frame)
    assert row["data"] == data.decode()
    assert row["message_type"] == PAGE_MESSAGE_TYPES["products"] == "QueryProductsPage"
    assert json.loads(row["attributes"])["sweep_id"] == "sweep-example"
    fits(row)


def test_an_empty_page_yields_nothing_and_no_dead_letter():
    frame = page(q.page("events", []), "events")
    assert (frame.dead_letter, frame.events, frame.reference) == (None, [], [])


# --- bad pages -----------------------------------------------------------------------------------

GRAPHQL_ERROR = {
    "message": "Rate limit exceeded",
    "extensions": {"code": "THROTTLED"},
    "path": ["products"],
}


@pytest.mark.parametrize(
    ("data", "operation", "stage", "reason"),
    [
        (b"<html>502 Bad Gateway</html>", "products", "parse", "not JSON"),
        (b'{"data": "\xff"}', "products", "parse", "not UTF-8"),
        (b"[1, 2]", "events", "validate", "JSON list"),
        (b'{"data": {"events": null}}', "events", "validate", "no data.events"),
        (b'{"data": {"events": {"nodes": 3}}}', "events", "validate", "nodes is not a list"),
        (
            json.dumps(q.page("products", None, errors=[GRAPHQL_ERROR])).encode(),
            "products",
            "graphql_error",
            "Rate limit exceeded [THROTTLED] at products",
        ),
        (json.dumps(q.products_page()).encode(), "bets", "contract", "unknown operation 'bets'"),
    ],
)
def test_unusable_pages_are_dead_lettered_with_the_reason(data, operation, stage, reason):
    data, attrs = q.query_page_message(data, operation)
    frame = process_frame(data, attrs)
    assert frame.dead_letter is not None
    assert frame.dead_letter.stage == stage
    assert reason in frame.dead_letter.reason
    assert (frame.events, frame.reference) == ([], [])
    row = records.frame_dead_letter_row(frame)
    assert row["data_text"] == data.decode("utf-8", errors="replace")
    fits(row)


@pytest.mark.parametrize("value", [None, "yesterday"])
def test_a_page_without_a_valid_request_start_is_a_contract_dead_letter(value):
    data, attrs = q.query_page_message(q.products_page(), "products")
    if value is None:
        del attrs[ingress.ATTR_REQUEST_STARTED_AT]
    else:
        attrs[ingress.ATTR_REQUEST_STARTED_AT] = value
    frame = process_frame(data, attrs)
    assert frame.dead_letter is not None and frame.dead_letter.stage == "contract"
    assert ingress.ATTR_REQUEST_STARTED_AT in frame.dead_letter.reason


def test_a_partial_response_is_processed_and_its_errors_reported(caplog):
    error = {"message": "pool service timed out", "path": ["products", "nodes", 1, "type", "pool"]}
    other = q.product_node("99999999-0000-4000-8000-000000000009")
    body = q.products_page(q.product_node(), other, errors=[error])
    data, attrs = q.query_page_message(body, "products")
    result = process_page(data, attrs)
    assert result.errors == ["pool service timed out at products.nodes.1.type.pool"]
    assert result.events and result.reference
    with caplog.at_level("WARNING", logger="pipeline.query_pages"):
        frame = process_frame(data, attrs)
    assert frame.dead_letter is None and frame.events
    assert "pool service timed out" in caplog.text
    assert attrs[ingress.ATTR_REQUEST_ID] in caplog.text


def test_unusable_nodes_are_skipped_and_reported_the_rest_processed(caplog):
    nodes = [
        q.product_node(product_id=None),  # no id: no events, no reference
        "not a node",
        q.product_node(
            "99999999-0000-4000-8000-000000000009",
            legs=[q.leg_node(selections=[q.selection_node(selection_id=None)])],
        ),
        q.product_node(),
    ]
    data, attrs = q.query_page_message(q.page("products", nodes), "products")
    result = process_page(data, attrs)
    assert any("products[0]" in p and "productId" in p for p in result.problems)
    assert any("products[1]" in p for p in result.problems)
    assert any("products[2]" in p and "selectionId" in p for p in result.problems)
    assert any(
        "products[2].type.legs.nodes[0].selections.nodes[0]: skipped" in p for p in result.problems
    )
    assert {e.key.split("|")[1] for e in result.events} == {
        q.PRODUCT_ID,
        "99999999-0000-4000-8000-000000000009",  # its status and total are still good
    }
    assert {r.entity_id for r in result.reference if r.kind == "product"} == {
        q.PRODUCT_ID,
        "99999999-0000-4000-8000-000000000009",  # one bad selection does not drop its product
    }
    with caplog.at_level("WARNING", logger="pipeline.query_pages"):
        frame = process_frame(data, attrs)
    assert frame.dead_letter is None and "unusable node" in caplog.text


def test_unknown_fields_are_tolerated():
    node = q.product_node()
    node["type"]["lines"] = {"nodes": [{"id": "x"}]}
    node["brandNew"] = {"nested": [1, 2]}
    node["type"]["legs"]["nodes"][0]["selections"]["nodes"][0]["totalUnits"] = 12.5
    frame = page(q.products_page(node), "products")
    assert frame.dead_letter is None
    assert len(frame.events) == 4 and len(frame.reference) == 4


def test_graphql_errors_in_any_shape_become_lines():
    assert graphql_errors([{"message": "boom"}, "plain", {"no": "message"}]) == [
        "boom",
        "plain",
        "{'no': 'message'}",
    ]
    assert graphql_errors({"message": "single", "extensions": {"code": "X"}}) == ["single [X]"]


def test_graphql_error_lines_are_bounded_whatever_the_message():
    deep: list[Any] = []
    for _ in range(800):
        deep = [deep]
    (line,) = graphql_errors([{"message": deep, "path": ["products", "nodes", 0]}])
    assert line.startswith("[[[") and line.endswith(" at products.nodes.0") and len(line) < 100
    (line,) = graphql_errors([{"message": "x" * 10_000}])
    assert line == "x" * 500


# --- partial responses: what the query does not know is omitted, not invented --------------------


def problems_of(
    body: dict[str, Any], operation: str
) -> tuple[list[records.TypedEvent], list[records.ReferenceRecord], list[str]]:
    result = process_page(*q.query_page_message(body, operation, request_started_at=STARTED))
    return result.events, result.reference, result.problems


@pytest.mark.parametrize(
    "results", [None, {"nodes": None}, {"nodes": [None]}, {"nodes": [{"id": "A"}, None]}, "x"]
)
def test_unknown_results_publish_no_result_event(results):
    node = q.event_node(result_status="FINAL", results=[(q.COMPETITOR_ID, "1", "FINAL")])
    node["result"]["results"] = results
    events, reference, problems = problems_of(q.events_page(node), "events")
    assert [e for e in events if e.message_type == "EventResultChanged"] == []
    assert any("events[0].result.results" in p for p in problems), problems
    assert {e.message_type for e in events} == {"EventStatusChanged", "CompetitorStatusChanged"}
    assert len(reference) == 3  # the event and its runners are still named


def test_a_known_empty_final_result_is_still_published():
    node = q.event_node(result_status="FINAL", results=[])
    events, _, problems = problems_of(q.events_page(node), "events")
    (result,) = [e for e in events if e.message_type == "EventResultChanged"]
    assert result.values["competitor_results"] == [] and problems == []


@pytest.mark.parametrize(
    "break_line",
    [
        lambda line: line.update(dividendLegs=None),
        lambda line: line.update(dividendLegs={"nodes": None}),
        lambda line: line.update(dividend=None),
        lambda line: line["dividendLegs"]["nodes"][0].update(dividendSelections=None),
        lambda line: line["dividendLegs"]["nodes"].append(None),
    ],
)
def test_incomplete_dividends_publish_no_dividend_event(break_line):
    node = q.product_node(result_status="FINAL", dividends=[q.dividend_line(), q.dividend_line()])
    break_line(node["type"]["result"]["dividends"]["nodes"][1])
    events, reference, problems = problems_of(q.products_page(node), "products")
    assert [e for e in events if e.message_type == "PoolDividendChanged"] == []
    assert any("products[0].type.result.dividends: incomplete" in p for p in problems)
    assert {r.kind for r in reference} == {"product", "leg", "selection"}


def test_null_dividends_say_nothing_and_are_no_problem():
    node = q.product_node(result_status="FINAL", dividends=[])
    node["type"]["result"]["dividends"] = None
    events, _, problems = problems_of(q.products_page(node), "products")
    assert [e for e in events if e.message_type == "PoolDividendChanged"] == [] and problems == []


# --- one bad child skips that child only ----------------------------------------------------------


def test_a_runner_without_id_is_skipped_and_the_event_and_other_runners_kept():
    node = q.event_node(
        competitors=[
            q.competitor_node(competitor_id=None),
            q.competitor_node(q.COMPETITOR_2_ID, "DANCING BRAVE", "WITHDRAWN"),
            "not a runner",
        ]
    )
    _, reference, problems = problems_of(q.events_page(node), "events")
    assert [(r.kind, r.entity_id) for r in reference] == [
        ("event", q.EVENT_ID),
        ("competitor", q.COMPETITOR_2_ID),
    ]
    assert [p.split(":")[0] for p in problems if "skipped" in p] == [
        "events[0].eventCompetitors.nodes[0]",
        "events[0].eventCompetitors.nodes[2]",
    ]


def test_a_selection_without_id_is_skipped_and_its_siblings_kept():
    selections = [q.selection_node(selection_id=None), q.selection_node(q.SELECTION_2_ID)]
    node = q.product_node(legs=[q.leg_node(selections=selections)])
    _, reference, problems = problems_of(q.products_page(node), "products")
    assert [(r.kind, r.entity_id) for r in reference] == [
        ("product", q.PRODUCT_ID),
        ("leg", q.LEG_ID),
        ("selection", q.SELECTION_2_ID),
    ]
    assert any(p.startswith("products[0].type.legs.nodes[0].selections.nodes[0]") for p in problems)


# --- legs: numbered by position, event_ids aligned with leg_ids ----------------------------------

LEG_2 = "aaaaaaaa-0000-4000-8000-000000000002"
LEG_3 = "aaaaaaaa-0000-4000-8000-000000000003"
EVENT_2 = "HORSERACING-NEWCASTLE-GB-2026-01-31-2000"
EVENT_3 = "HORSERACING-NEWCASTLE-GB-2026-01-31-2035"


@pytest.mark.parametrize(
    "middle",
    [None, "not a leg", q.leg_node(None, EVENT_2, []), q.leg_node("  ", EVENT_2, [])],
)
def test_an_unusable_leg_keeps_the_others_numbers_and_writes_no_product_row(middle):
    legs = [q.leg_node(q.LEG_ID, q.EVENT_ID, []), middle, q.leg_node(LEG_3, EVENT_3, [])]
    node = q.product_node(bet_type="PLACEPOT", legs=legs)
    _, reference, problems = problems_of(q.products_page(node), "products")
    assert [(r.kind, r.values.get("leg_number"), r.values.get("event_id")) for r in reference] == [
        ("leg", 1, q.EVENT_ID),
        ("leg", 3, EVENT_3),
    ]
    assert any("products[0].type.legs.nodes[1]" in p for p in problems)
    assert any("no product record" in p for p in problems)


def test_a_leg_without_its_race_keeps_its_row_and_writes_no_product_row():
    legs = [q.leg_node(q.LEG_ID, q.EVENT_ID, []), q.leg_node(LEG_2, EVENT_2, [])]
    legs[0]["event"] = None
    _, reference, problems = problems_of(q.products_page(q.product_node(legs=legs)), "products")
    assert [(r.kind, r.values["leg_number"], r.values["event_id"]) for r in reference] == [
        ("leg", 1, None),
        ("leg", 2, EVENT_2),
    ]
    assert any("no product record" in p for p in problems)


def test_null_legs_write_no_product_row():
    node = q.product_node()
    node["type"]["legs"] = None
    events, reference, problems = problems_of(q.products_page(node), "products")
    assert reference == [] and any("type.legs" in p for p in problems)
    assert {e.message_type for e in events} == {"ProductStatusChanged", "PoolTotalChanged"}


def test_the_catalog_documents_the_leg_alignment():
    columns = {c.name: c for c in catalog.REFERENCE_COLUMNS["product"]}
    assert "aligned with leg_ids" in columns["event_ids"].description
    assert "no product row" in columns["event_ids"].description


# --- partial responses: no reference rows from nodes under a GraphQL error -----------------------

OTHER_PRODUCT = "99999999-0000-4000-8000-000000000009"


def test_a_node_under_an_error_path_writes_no_reference_rows_but_keeps_its_events():
    broken = q.product_node(OTHER_PRODUCT)
    broken["type"]["selling"] = None  # what the gateway sends when the resolver failed
    error = {"message": "selling timed out", "path": ["products", "nodes", 1, "type", "selling"]}
    body = q.products_page(q.product_node(), broken, errors=[error])
    events, reference, problems = problems_of(body, "products")
    assert {r.values["product_id"] for r in reference} == {q.PRODUCT_ID}
    assert {e.key.split("|")[1] for e in events} == {q.PRODUCT_ID, OTHER_PRODUCT}
    assert ("ProductStatusChanged|" + OTHER_PRODUCT) not in {e.key for e in events}
    assert any(p.startswith("products[1]: under a GraphQL error") for p in problems)


@pytest.mark.parametrize("path", [None, ["products"], ["products", "nodes"], "x"])
def test_an_error_that_names_no_node_withholds_every_reference_row(path):
    error = {"message": "venue service down"} | ({"path": path} if path else {})
    events, reference, problems = problems_of(q.events_page(errors=[error]), "events")
    assert reference == [] and events
    assert any(p.startswith("events[0]: under a GraphQL error") for p in problems)


def test_an_error_under_page_info_touches_no_node():
    error = {"message": "cursor", "path": ["events", "pageInfo", "endCursor"]}
    _, reference, problems = problems_of(q.events_page(errors=[error]), "events")
    assert len(reference) == 3 and problems == []


def test_partial_nodes():
    assert partial_nodes([{"path": ["events", "nodes", 2, "venue"]}], "events", 5) == {2}
    assert partial_nodes([{"path": ["products", "nodes", 2]}], "events", 3) == {0, 1, 2}
    assert partial_nodes([{"path": ["events", "nodes", True]}], "events", 2) == {0, 1}
    assert partial_nodes({"path": ["events", "pageInfo"]}, "events", 2) == set()


# --- selection statuses: one vocabulary for the stream and the query ----------------------------


@pytest.mark.parametrize(
    ("streamed_status", "query_status"),
    [("Active", "AVAILABLE"), ("INACTIVE", "NOT_AVAILABLE"), ("suspended", "NOT_AVAILABLE")],
)
def test_stream_and_query_selection_statuses_compare_equal(streamed_status, query_status):
    stream = streamed(
        "SelectionStatusChanged",
        examples.example_message("SelectionStatusChanged", status=streamed_status),
    )
    assert stream.values["status"] == query_status
    assert stream.message["status"] == streamed_status  # the payload keeps what Tote sent
    node = q.product_node(legs=[q.leg_node(selections=[q.selection_node(status=query_status)])])
    frame = page(q.products_page(node), "products")
    (event,) = by_type(frame, "SelectionStatusChanged")
    assert (event.key, event.values["status"]) == (stream.key, stream.values["status"])
    selection = next(r for r in frame.reference if r.kind == "selection")
    assert selection.values["status"] == query_status


def test_a_query_selection_status_in_the_stream_vocabulary_is_mapped_too():
    node = q.product_node(legs=[q.leg_node(selections=[q.selection_node(status="Active")])])
    frame = page(q.products_page(node), "products")
    (event,) = by_type(frame, "SelectionStatusChanged")
    selection = next(r for r in frame.reference if r.kind == "selection")
    assert event.values["status"] == selection.values["status"] == "AVAILABLE"


def test_the_selection_status_synonyms_are_the_catalogs_and_documented():
    (status,) = [c for c in message_type("SelectionStatusChanged").columns if c.name == "status"]
    assert status.synonyms == catalog.SELECTION_STATUS_SYNONYMS
    assert dict(status.synonyms) == {
        "ACTIVE": "AVAILABLE",
        "INACTIVE": "NOT_AVAILABLE",
        "SUSPENDED": "NOT_AVAILABLE",
    }
    guide = (Path(__file__).parents[2] / "docs" / "analyst.md").read_text()
    for stream_value, query_value in status.synonyms:
        assert f"`{stream_value}` → `{query_value}`" in guide
    assert "guess" in status.description
