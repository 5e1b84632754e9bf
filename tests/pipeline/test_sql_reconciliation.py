"""The reference and analyst views and the race-day example queries, on the BigQuery emulator.

One race day is played through the pipeline's own code: query-sweep pages and websocket frames
go through ``pipeline.core.process_frame`` and become rows with ``pipeline.records`` (every row
checked against its table's schema), then the SQL runs on them.  The day has the hard cases in
it: a sweep page that arrives *after* a newer streamed total (older state, must not be latest), a
race that goes off between sweeps, a non-runner, a dividend, and a redelivered insert.

Race: Newcastle, scheduled 13:00 UTC on 2026-07-01 (14:00 in Europe/London, BST).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import bigquery

from contract import catalog, ingress
from devstack.bigquery_emulator import BigQueryEmulator
from devstack.insert_validation import row_problems
from pipeline import query, records, tables
from pipeline.core import process_frame
from pipeline.transforms import table_for_row
from tests.conftest import PROJECT
from testsupport import examples
from testsupport import query_examples as q

pytestmark = pytest.mark.bigquery

DAY = datetime(2026, 7, 1, tzinfo=UTC)
EVENT = "HORSERACING-NEWCASTLE-GB-2026-07-01-1400"
RUNNER_A, RUNNER_B = f"{EVENT}-RUNNER-A", f"{EVENT}-RUNNER-B"
WIN, PLACE = "11111111-aaaa-4aaa-8aaa-111111111111", "22222222-bbbb-4bbb-8bbb-222222222222"
WIN_LEG, PLACE_LEG = "31111111-aaaa-4aaa-8aaa-111111111111", "32222222-bbbb-4bbb-8bbb-222222222222"
SEL_A, SEL_B = "41111111-aaaa-4aaa-8aaa-111111111111", "42222222-bbbb-4bbb-8bbb-222222222222"
PSEL_A, PSEL_B = "51111111-aaaa-4aaa-8aaa-111111111111", "52222222-bbbb-4bbb-8bbb-222222222222"


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss)


def ts(hh: int, mm: int, ss: int = 0) -> datetime:
    """As the BigQuery client returns a TIMESTAMP."""
    return at(hh, mm, ss)


OFF = at(13, 1, 30)


def selections(ids: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        q.selection_node(ids[0], "RUNNER A", "AVAILABLE", RUNNER_A),
        q.selection_node(ids[1], "RUNNER B", "NOT_AVAILABLE", RUNNER_B),
    ]


def win(status: str, gross: float, net: float, **kwargs: Any) -> dict[str, Any]:
    return q.product_node(
        WIN,
        name="NEWCASTLE RACE 4 - WIN",
        bet_type="WIN",
        selling_status=status,
        gross=gross,
        net=net,
        legs=[q.leg_node(WIN_LEG, EVENT, selections((SEL_A, SEL_B)))],
        **kwargs,
    )


def place(status: str, gross: float, net: float) -> dict[str, Any]:
    return q.product_node(
        PLACE,
        name="NEWCASTLE RACE 4 - PLACE",
        bet_type="PLACE",
        selling_status=status,
        gross=gross,
        net=net,
        legs=[q.leg_node(PLACE_LEG, EVENT, selections((PSEL_A, PSEL_B)))],
    )


def race(status: str, **kwargs: Any) -> dict[str, Any]:
    return q.event_node(
        EVENT,
        name="NEWCASTLE RACE 4",
        status=status,
        start="2026-07-01T13:00:00Z",
        venue="Newcastle",
        country="GB",
        competitors=[
            q.competitor_node(RUNNER_A, "RUNNER A", "CONFIRMED", cloth_number=1),
            q.competitor_node(RUNNER_B, "RUNNER B", "WITHDRAWN", cloth_number=2),
        ],
        **kwargs,
    )


def sweep(
    body: dict[str, Any], operation: str, started: datetime, received: datetime
) -> records.Frame:
    data, attrs = q.query_page_message(
        body, operation, request_started_at=started, received_at=received
    )
    return process_frame(data, attrs, now=received + timedelta(seconds=1))


def stream(name: str, when: datetime, **message: Any) -> records.Frame:
    data, attrs = examples.ingress_message(
        examples.frame(name, examples.example_message(name, **message)), received_at=when
    )
    return process_frame(data, attrs, now=when + timedelta(seconds=1))


def pool_total(product: str, when: datetime, gross: float, net: float, final: bool = False):
    return stream(
        "PoolTotalChanged",
        when,
        productId=product,
        isFinalized=final,
        total={"grossAmounts": [q.money(gross)], "netAmounts": [q.money(net)]},
    )


FRAMES = [
    # 12:30 sweep: pools open, race scheduled, runner B already withdrawn.
    sweep(
        q.products_page(win("OPEN", 100, 80), place("OPEN", 60, 48)),
        "products",
        at(12, 30),
        at(12, 30, 2),
    ),
    sweep(q.events_page(race("SCHEDULED")), "events", at(12, 30), at(12, 30, 3)),
    pool_total(WIN, at(12, 50), 500, 400),
    pool_total(WIN, at(12, 59), 900, 720),
    pool_total(PLACE, at(12, 59), 300, 240),
    # The stream names a selection's state in its own words ("Active"); the 12:58 sweep's
    # AVAILABLE is the same state, not a repair.
    stream(
        "SelectionStatusChanged",
        at(12, 45),
        productId=WIN,
        legId=WIN_LEG,
        selectionId=SEL_A,
        status="Active",
    ),
    # A page requested at 12:58 that only arrives at 13:03: older than the streamed 12:59 totals.
    sweep(
        q.products_page(win("OPEN", 850, 680), place("OPEN", 280, 224)),
        "products",
        at(12, 58),
        at(13, 3),
    ),
    stream("EventStatusChanged", OFF, eventId=EVENT, status="STARTED"),
    stream("ProductStatusChanged", at(13, 1, 31), productId=WIN, status="CLOSED"),
    pool_total(WIN, at(13, 2), 950, 760, final=True),
    # 13:20 sweep: resulted.  (The PLACE pool is on a page that is not part of this test.)
    sweep(
        q.products_page(
            win(
                "CLOSED",
                950,
                760,
                result_status="FINAL",
                dividends=[q.dividend_line("Base", "FINAL", 1.9, [(WIN_LEG, [(SEL_A, "1")])])],
            )
        ),
        "products",
        at(13, 20),
        at(13, 20, 2),
    ),
    sweep(
        q.events_page(race("FINISHED", result_status="FINAL", results=[(RUNNER_A, "1", "FINAL")])),
        "events",
        at(13, 20),
        at(13, 20, 3),
    ),
]


def pipeline_rows(frames: list[records.Frame]) -> dict[str, list[dict[str, Any]]]:
    """The rows the pipeline writes for these frames (raw, typed, reference), by table."""
    out: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        assert frame.dead_letter is None, frame.dead_letter
        rows = [records.raw_row(frame)]
        rows += [records.typed_row(frame, e) for e in frame.events]
        rows += [records.reference_row(frame, r) for r in frame.reference]
        for row in rows:
            table = table_for_row(row)
            assert row_problems(row, catalog.table_schema(table)) == [], (table, row)
            out.setdefault(table, []).append(row)
    return out


ROWS = pipeline_rows(FRAMES)
REDELIVERED = {  # the 12:30 products page's selection rows inserted twice
    **ROWS,
    "selection_status_changed": ROWS["selection_status_changed"]
    + [
        {**r, "ingested_at": ingress.format_timestamp(at(13, 30))}
        for r in ROWS["selection_status_changed"][:4]
    ],
}


@pytest.fixture(scope="module")
def loaded(bigquery_emulator: BigQueryEmulator) -> Iterator[tuple[bigquery.Client, str]]:
    client = bigquery_emulator.client(PROJECT)
    dataset = f"recon_{uuid.uuid4().hex[:8]}"
    tables.ensure_all(client, PROJECT, dataset)
    for table, rows in REDELIVERED.items():
        assert client.insert_rows_json(f"{PROJECT}.{dataset}.{table}", rows) == [], table
    yield client, dataset


def run(loaded: tuple[bigquery.Client, str], sql: str) -> list[dict[str, Any]]:
    client, dataset = loaded
    return [dict(r) for r in client.query(tables.render_sql(sql, client.project, dataset)).result()]


def view(loaded: tuple[bigquery.Client, str], name: str, order_by: str) -> list[dict[str, Any]]:
    return run(loaded, f"SELECT * FROM `${{project}}.${{dataset}}.{name}` ORDER BY {order_by}")


def example(loaded: tuple[bigquery.Client, str], name: str) -> list[dict[str, Any]]:
    client, dataset = loaded
    return [dict(r) for r in client.query(query.resolve_sql(name, client.project, dataset))]


# --- typed "latest" views order by as_of ----------------------------------------------------------


def test_an_older_query_state_that_arrives_later_is_never_latest(loaded) -> None:
    rows = {r["product_id"]: r for r in view(loaded, "latest_pool_totals", "product_id")}
    place_pool = rows[PLACE]
    # The 12:58 page (gross 280) arrived at 13:03, after the streamed 12:59 total (300).
    assert place_pool["gross_amounts"] == [{"amount": Decimal("300"), "currency": "GBP"}]
    assert (place_pool["source"], place_pool["updated_at"]) == ("subscription", ts(12, 59))
    win_pool = rows[WIN]
    assert (win_pool["source"], win_pool["updated_at"]) == ("query", ts(13, 20))
    assert win_pool["is_finalized"] is True  # the query does not know it; the stream said so
    assert win_pool["net_amounts"] == [{"amount": Decimal("760"), "currency": "GBP"}]


def test_event_results_take_the_newest_result(loaded) -> None:
    rows = view(loaded, "event_results", "competitor_id")
    assert [(r["event_id"], r["competitor_id"], r["position"], r["source"]) for r in rows] == [
        (EVENT, RUNNER_A, 1, "query")
    ]
    assert rows[0]["resulted_at"] == ts(13, 20)


def test_dedup_views_keep_every_entity_of_a_query_page(loaded) -> None:
    (total,) = run(
        loaded, "SELECT COUNT(*) AS n FROM `${project}.${dataset}.selection_status_changed`"
    )
    rows = view(loaded, "selection_status_changed_dedup", "as_of, selection_id")
    assert total["n"] == len(rows) + 4  # the four redelivered rows
    first_page = [r for r in rows if r["as_of"] == ts(12, 30)]
    assert sorted(r["selection_id"] for r in first_page) == sorted([SEL_A, SEL_B, PSEL_A, PSEL_B])
    assert len({r["frame_id"] for r in first_page}) == 1  # one frame, four entities


# --- reference views -----------------------------------------------------------------------------


def test_latest_reference_views_hold_the_newest_version(loaded) -> None:
    products = view(loaded, "latest_products", "product_id")
    assert [
        (r["product_id"], r["bet_type"], r["selling_status"], r["as_of"]) for r in products
    ] == [
        (WIN, "WIN", "CLOSED", ts(13, 20)),
        (PLACE, "PLACE", "OPEN", ts(12, 58)),
    ]
    assert products[0]["leg_ids"] == [WIN_LEG] and products[0]["event_ids"] == [EVENT]
    (event,) = view(loaded, "latest_events", "event_id")
    assert (event["name"], event["venue"], event["status"], event["scheduled_start"]) == (
        "NEWCASTLE RACE 4",
        "Newcastle",
        "FINISHED",
        ts(13, 0),
    )
    legs = view(loaded, "latest_legs", "leg_id")
    assert [(r["leg_id"], r["product_id"], r["leg_number"]) for r in legs] == [
        (WIN_LEG, WIN, 1),
        (PLACE_LEG, PLACE, 1),
    ]
    sels = view(loaded, "latest_selections", "selection_id")
    assert [(r["selection_id"], r["name"], r["status"]) for r in sels] == [
        (SEL_A, "RUNNER A", "AVAILABLE"),
        (SEL_B, "RUNNER B", "NOT_AVAILABLE"),
        (PSEL_A, "RUNNER A", "AVAILABLE"),
        (PSEL_B, "RUNNER B", "NOT_AVAILABLE"),
    ]
    runners = view(loaded, "latest_competitors", "competitor_id")
    assert [(r["competitor_id"], r["entry_status"], r["cloth_number"]) for r in runners] == [
        (RUNNER_A, "CONFIRMED", 1),
        (RUNNER_B, "WITHDRAWN", 2),
    ]


# --- analyst views -------------------------------------------------------------------------------


def test_races_name_the_race_in_local_time_with_its_off_and_runners(loaded) -> None:
    (row,) = view(loaded, "races", "event_id")
    assert row == {
        "event_id": EVENT,
        "race_name": "NEWCASTLE RACE 4",
        "venue": "Newcastle",
        "country": "GB",
        "scheduled_start": ts(13, 0),
        "start_local": datetime(2026, 7, 1, 14, 0),  # BST
        "race_date": date(2026, 7, 1),
        "status": "FINISHED",
        "status_as_of": ts(13, 20),
        "off_at": OFF,
        "off_time": OFF,
        "result_status": "FINAL",
        "runners": 2,
        "non_runners": 1,
    }


def test_race_pools_join_pools_to_their_race_with_current_status_and_total(loaded) -> None:
    rows = view(loaded, "race_pools", "bet_type DESC")
    assert [
        (
            r["product_id"],
            r["bet_type"],
            r["venue"],
            r["start_local"],
            r["status"],
            r["gross_amount"],
            r["net_amount"],
            r["currency"],
            r["is_finalized"],
        )
        for r in rows
    ] == [
        (
            WIN,
            "WIN",
            "Newcastle",
            datetime(2026, 7, 1, 14),
            "CLOSED",
            Decimal("950"),
            Decimal("760"),
            "GBP",
            True,
        ),
        (
            PLACE,
            "PLACE",
            "Newcastle",
            datetime(2026, 7, 1, 14),
            "OPEN",
            Decimal("300"),
            Decimal("240"),
            "GBP",
            False,
        ),
    ]
    assert rows[0]["race_name"] == "NEWCASTLE RACE 4" and rows[0]["legs"] == 1


def test_race_runners_show_names_numbers_status_and_position(loaded) -> None:
    rows = view(loaded, "race_runners", "competitor_id")
    assert [
        (
            r["competitor_id"],
            r["runner_name"],
            r["cloth_number"],
            r["status"],
            r["is_non_runner"],
            r["position"],
        )
        for r in rows
    ] == [
        (RUNNER_A, "RUNNER A", 1, "CONFIRMED", False, 1),
        (RUNNER_B, "RUNNER B", 2, "WITHDRAWN", True, None),
    ]
    assert {(r["venue"], r["start_local"]) for r in rows} == {
        ("Newcastle", datetime(2026, 7, 1, 14))
    }


def test_race_dividends_name_the_winning_selection(loaded) -> None:
    (row,) = view(loaded, "race_dividends", "product_id")
    assert (
        row["product_id"],
        row["bet_type"],
        row["dividend_name"],
        row["dividend_status"],
        row["amount"],
        row["selection_id"],
        row["selection_name"],
        row["competitor_id"],
        row["venue"],
    ) == (WIN, "WIN", "Base", "FINAL", Decimal("1.9"), SEL_A, "RUNNER A", RUNNER_A, "Newcastle")


WIN_TIMELINE = [  # (as_of, seconds from the off, gross, source)
    (ts(12, 30), -1890, Decimal("100"), "query"),
    (ts(12, 50), -690, Decimal("500"), "subscription"),
    (ts(12, 58), -210, Decimal("850"), "query"),
    (ts(12, 59), -150, Decimal("900"), "subscription"),
    (ts(13, 2), 30, Decimal("950"), "subscription"),
    (ts(13, 20), 1110, Decimal("950"), "query"),
]


def test_pool_total_timeline_times_every_total_from_the_observed_off(loaded) -> None:
    rows = [r for r in view(loaded, "pool_total_timeline", "as_of") if r["product_id"] == WIN]
    assert [(r["as_of"], r["seconds_from_off"], r["gross_amount"], r["source"]) for r in rows] == (
        WIN_TIMELINE
    )
    assert {(r["off_time"], r["off_observed"], r["bet_type"]) for r in rows} == {(OFF, True, "WIN")}


# --- example queries -----------------------------------------------------------------------------


def test_pool_total_vs_off(loaded) -> None:
    rows = [r for r in example(loaded, "pool_total_vs_off") if r["product_id"] == WIN]
    assert [(r["as_of"], r["seconds_from_off"], r["gross_amount"], r["source"]) for r in rows] == (
        WIN_TIMELINE
    )
    assert {r["start_local"] for r in rows} == {datetime(2026, 7, 1, 14)}


def test_pool_at_the_off(loaded) -> None:
    rows = {r["product_id"]: r for r in example(loaded, "pool_at_the_off")}
    assert (
        rows[WIN]["at_off_as_of"],
        rows[WIN]["gross_at_off"],
        rows[WIN]["final_gross"],
        rows[WIN]["gross_after_off"],
    ) == (ts(12, 59), Decimal("900"), Decimal("950"), Decimal("50"))
    assert (rows[PLACE]["gross_at_off"], rows[PLACE]["gross_after_off"]) == (
        Decimal("300"),
        Decimal("0"),
    )
    assert rows[WIN]["off_time"] == OFF and rows[WIN]["off_observed"] is True


def test_dividend_vs_final_pool(loaded) -> None:
    (row,) = example(loaded, "dividend_vs_final_pool")
    assert (
        row["product_id"],
        row["dividend"],
        row["final_net_pool"],
        row["implied_winning_units"],
        row["winners"],
    ) == (WIN, Decimal("1.9"), Decimal("760"), Decimal("400"), "RUNNER A")


def test_non_runners(loaded) -> None:
    (row,) = example(loaded, "non_runners")
    assert (row["competitor_id"], row["runner_name"], row["cloth_number"], row["venue"]) == (
        RUNNER_B,
        "RUNNER B",
        2,
        "Newcastle",
    )
    assert row["withdrawn_as_of"] == ts(12, 30)  # the first sweep found it


def test_every_sql_example_in_the_analyst_guide_runs(loaded) -> None:
    guide = (tables.SQL_DIR.parent.parent / "docs" / "analyst.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", guide, flags=re.DOTALL)
    assert len(blocks) >= 3
    for sql in blocks:
        run(loaded, sql)  # raises on SQL the emulator (or a typo) rejects


def test_sweep_repairs(loaded) -> None:
    rows = example(loaded, "sweep_repairs")
    first_sweep = [r for r in rows if r["as_of"] == ts(12, 30)]
    assert sorted((r["message_type"], r["previous_status"]) for r in first_sweep) == sorted(
        [("ProductStatusChanged", None)] * 2
        + [("SelectionStatusChanged", None)] * 4
        + [("EventStatusChanged", None)]
        + [("CompetitorStatusChanged", None)] * 2
    )
    # The stream saw the race go off but missed FINISHED; the 13:20 sweep found it.  Nothing
    # else the later sweeps saw was new (the redelivered inserts change nothing either, nor
    # does the 12:58 sweep's AVAILABLE after the stream's "Active": one vocabulary).
    later = [r for r in rows if r["as_of"] != ts(12, 30)]
    assert [(r["message_type"], r["entity"], r["previous_status"], r["status"]) for r in later] == [
        ("EventStatusChanged", EVENT, "STARTED", "FINISHED")
    ]


def test_the_analyst_guide_lists_the_common_and_reference_columns() -> None:
    guide = (tables.SQL_DIR.parent.parent / "docs" / "analyst.md").read_text()
    common = [c.name for c in catalog.COMMON_COLUMNS]
    assert f"same {['six', 'seven', 'eight', 'nine'][len(common) - 6]} columns" in guide
    assert [c for c in common if f"| `{c}` |" not in guide] == []
    for kind, columns in catalog.REFERENCE_COLUMNS.items():
        line = next(x for x in guide.splitlines() if x.startswith(f"| `reference_{kind}s` |"))
        assert [c.name for c in columns if c.name not in line] == [], kind
