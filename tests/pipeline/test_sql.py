"""The analyst views and example queries, run on the BigQuery emulator against rows built the
way the pipeline builds them (catalog normalisation, NUMERIC as decimal strings, RFC 3339
TIMESTAMPs, repeated records as lists of dicts, ``payload`` as JSON text), duplicates included.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import bigquery

from contract import catalog, ingress
from devstack.bigquery_emulator import BigQueryEmulator
from pipeline import query, tables
from pipeline.normalize import normalize
from tests.catalog_types import message_type
from tests.conftest import PROJECT
from testsupport.examples import example_message

pytestmark = pytest.mark.bigquery

NOW = datetime.now(UTC).replace(microsecond=0)
BASE = NOW.replace(minute=10, second=0) - timedelta(hours=3)
P1, P2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
EVENT = "HORSERACING-ASCOT-GB-2026-11-26-1400"
BET1, BET2 = "a" * 32, "b" * 32


def at(minutes: float) -> str:
    return ingress.format_timestamp(BASE + timedelta(minutes=minutes))


def money(amount: float) -> dict[str, Any]:
    return {"decimalAmount": amount, "currency": {"code": "GBP"}}


def typed(name: str, minutes: float, frame_id: str | None = None, **message: Any) -> dict[str, Any]:
    """A typed-table row as the pipeline builds it from the message ``name`` + overrides."""
    spec = catalog.by_name(name)
    assert spec is not None
    msg = example_message(name, **message)
    return {
        "frame_id": frame_id or uuid.uuid4().hex,
        "received_at": at(minutes),
        "message_type": name,
        "connection_id": "conn-1",
        "ingested_at": at(minutes + 0.01),
        "payload": json.dumps(msg),
        **normalize(spec, msg),
    }


def raw(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "frame_id": row["frame_id"],
        "received_at": row["received_at"],
        "connection_id": row["connection_id"],
        "subscription": "on" + row["message_type"],
        "protocol": "graphql-transport-ws",
        "message_type": row["message_type"],
        "data": row["payload"],
        "attributes": json.dumps({"frame_id": row["frame_id"]}),
        "ingested_at": row["ingested_at"],
    }


def dividend(status: str, amount: float, selection: str) -> list[dict[str, Any]]:
    return [
        {
            "dividend": {"name": "Base", "type": "POOL", "status": status, "amount": money(amount)},
            "legs": [{"legId": "leg-1", "selections": [{"id": selection}]}],
        }
    ]


def results(status: str, *positions: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"competitorId": c, "finishingPosition": p, "status": status} for c, p in positions]


def redelivered(row: dict[str, Any]) -> dict[str, Any]:
    """The same frame inserted again later (what a best-effort insert id lets through)."""
    return {**row, "ingested_at": at(200)}


POOL_T1 = typed(
    "PoolTotalChanged",
    0,
    productId=P1,
    total={"grossAmounts": [money(6645.4)], "netAmounts": [money(5316.32)]},
)
POOL_T2 = typed(
    "PoolTotalChanged",
    5,
    productId=P1,
    isFinalized=True,
    total={"grossAmounts": [money(7000.1)], "netAmounts": [money(5600.08)]},
)
POOL_P2 = typed(
    "PoolTotalChanged",
    2,
    productId=P2,
    total={"grossAmounts": [money(120)], "netAmounts": [money(96)]},
)
DIV_PROV = typed(
    "PoolDividendChanged", 30, productId=P1, dividends=dividend("PROVISIONAL", 12.7, "sel-1")
)
DIV_FINAL = typed(
    "PoolDividendChanged", 31, productId=P1, dividends=dividend("FINAL", 12.9, "sel-1")
)
RES_PROV = typed(
    "EventResultChanged",
    20,
    eventId=EVENT,
    status="PROVISIONAL",
    competitorResults=results("PROVISIONAL", ("runner-a", "1"), ("runner-b", "2")),
)
RES_FINAL = typed(
    "EventResultChanged",
    25,
    eventId=EVENT,
    status="FINAL",
    competitorResults=results("FINAL", ("runner-b", "1"), ("runner-a", "2"), ("runner-c", "PU")),
)
BET_ACCEPTED = typed("BetAccepted", 1, betId=BET1)
BET_RESULTED = typed("BetResulted", 40, betId=BET1, status="WON", returns=money(25.5))
BET_SETTLED = typed("BetSettled", 41, betId=BET1, status="SETTLED")
BET_REJECTED = typed("BetRejected", 2, betId=BET2, reason="Product was not open")

TYPED_ROWS = {
    "pool_total_changed": [POOL_T1, POOL_T2, POOL_P2, redelivered(POOL_T1)],
    "pool_dividend_changed": [DIV_PROV, DIV_FINAL, redelivered(DIV_FINAL)],
    "event_result_changed": [RES_PROV, RES_FINAL, redelivered(RES_FINAL)],
    "bet_lifecycle": [
        BET_ACCEPTED,
        BET_RESULTED,
        redelivered(BET_RESULTED),
        BET_SETTLED,
        BET_REJECTED,
    ],
}
ALL_FRAMES = [r for rows in TYPED_ROWS.values() for r in rows if r["ingested_at"] != at(200)]
UNIQUE_FRAMES = len(ALL_FRAMES)


def dead_letter(stage: str, reason: str, minutes_ago: float) -> dict[str, Any]:
    return {
        "failed_at": ingress.format_timestamp(NOW - timedelta(minutes=minutes_ago)),
        "stage": stage,
        "reason": reason,
        "data_base64": "e30=",
        "data_text": "{}",
    }


DEAD_LETTERS = [
    dead_letter("validate", "missing required field productId", 5),
    dead_letter("validate", "missing required field productId", 3),
    dead_letter("parse", "not JSON", 10),
    dead_letter("parse", "not JSON", 60 * 30),  # older than a day: not counted
]


@pytest.fixture(scope="module")
def loaded(bigquery_emulator: BigQueryEmulator) -> Iterator[tuple[bigquery.Client, str]]:
    project = PROJECT
    client = bigquery_emulator.client(project)
    dataset = f"sql_{uuid.uuid4().hex[:8]}"
    tables.ensure_all(client, project, dataset)
    batches = {
        **TYPED_ROWS,
        "raw_frames": [raw(r) for r in ALL_FRAMES] + [raw(redelivered(POOL_T2))],
        "dead_letters": DEAD_LETTERS,
    }
    for table, rows in batches.items():
        assert client.insert_rows_json(f"{project}.{dataset}.{table}", rows) == [], table
    yield client, dataset


def run(loaded: tuple[bigquery.Client, str], sql: str) -> list[dict[str, Any]]:
    client, dataset = loaded
    return [dict(r) for r in client.query(tables.render_sql(sql, client.project, dataset)).result()]


def view(loaded: tuple[bigquery.Client, str], name: str, order_by: str) -> list[dict[str, Any]]:
    return run(loaded, f"SELECT * FROM `${{project}}.${{dataset}}.{name}` ORDER BY {order_by}")


def example(loaded: tuple[bigquery.Client, str], name: str) -> list[dict[str, Any]]:
    client, dataset = loaded
    sql = query.resolve_sql(name, client.project, dataset)
    return [dict(r) for r in client.query(sql).result()]


def ts(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["received_at"].replace("Z", "+00:00"))


# --- views ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "unique"),
    [
        ("pool_total_changed", 3),
        ("pool_dividend_changed", 2),
        ("event_result_changed", 2),
        ("bet_lifecycle", 4),
        ("raw_frames", UNIQUE_FRAMES),
    ],
)
def test_dedup_views_keep_one_row_per_frame(loaded, table: str, unique: int) -> None:
    (total,) = run(loaded, f"SELECT COUNT(*) AS n FROM `${{project}}.${{dataset}}.{table}`")
    rows = view(loaded, f"{table}_dedup", "frame_id")
    assert total["n"] == unique + 1  # one redelivered frame each
    assert len(rows) == unique
    assert len({r["frame_id"] for r in rows}) == unique
    # The first insert wins: no row with the redelivery's ingested_at survives.
    assert all(r["ingested_at"] != ts({"received_at": at(200)}) for r in rows)


def test_dedup_view_keeps_every_column(loaded) -> None:
    (row,) = [
        r
        for r in view(loaded, "pool_total_changed_dedup", "frame_id")
        if r["frame_id"] == POOL_T1["frame_id"]
    ]
    assert set(row) == {c.name for c in catalog.TABLES["pool_total_changed"].columns}
    assert row["gross_amounts"] == [{"amount": Decimal("6645.4"), "currency": "GBP"}]
    assert json.loads(row["payload"])["productId"] == P1


def test_latest_pool_totals_has_the_newest_total_per_product(loaded) -> None:
    rows = view(loaded, "latest_pool_totals", "product_id")
    assert [(r["product_id"], r["is_finalized"], r["frame_id"]) for r in rows] == [
        (P1, True, POOL_T2["frame_id"]),
        (P2, False, POOL_P2["frame_id"]),
    ]
    assert rows[0]["gross_amounts"] == [{"amount": Decimal("7000.1"), "currency": "GBP"}]
    assert rows[0]["net_amounts"] == [{"amount": Decimal("5600.08"), "currency": "GBP"}]
    assert rows[0]["updated_at"] == ts(POOL_T2)


def test_dividend_history_lists_each_announcement_once(loaded) -> None:
    rows = view(loaded, "dividend_history", "received_at")
    assert [
        (r["product_id"], r["dividend_name"], r["dividend_status"], r["amount"], r["selection_ids"])
        for r in rows
    ] == [
        (P1, "Base", "PROVISIONAL", Decimal("12.7"), ["sel-1"]),
        (P1, "Base", "FINAL", Decimal("12.9"), ["sel-1"]),
    ]
    assert rows[1]["currency"] == "GBP" and rows[1]["dividend_type"] == "POOL"


def test_event_results_show_the_latest_result_with_positions(loaded) -> None:
    rows = view(loaded, "event_results", "competitor_id")
    assert [
        (r["competitor_id"], r["finishing_position"], r["position"], r["competitor_status"])
        for r in rows
    ] == [
        ("runner-a", "2", 2, "FINAL"),
        ("runner-b", "1", 1, "FINAL"),
        ("runner-c", "PU", None, "FINAL"),
    ]
    assert {(r["event_id"], r["result_status"], r["frame_id"]) for r in rows} == {
        (EVENT, "FINAL", RES_FINAL["frame_id"])
    }


def test_bet_timeline_orders_all_bet_messages_per_bet(loaded) -> None:
    rows = view(loaded, "bet_timeline", "bet_id, step")
    assert [(r["bet_id"], r["step"], r["message_type"], r["is_latest"]) for r in rows] == [
        (BET1, 1, "BetAccepted", False),
        (BET1, 2, "BetResulted", False),
        (BET1, 3, "BetSettled", True),
        (BET2, 1, "BetRejected", True),
    ]
    resulted = rows[1]
    assert (resulted["status"], resulted["returns_amount"], resulted["returns_currency"]) == (
        "WON",
        Decimal("25.5"),
        "GBP",
    )
    assert rows[3]["reason"] == "Product was not open"


def test_the_bet_timeline_covers_all_six_bet_types() -> None:
    sql = (tables.VIEWS_DIR / "bet_timeline.sql").read_text()
    assert all(name in sql for name in catalog.BET_TYPES)
    assert {message_type(n).table for n in catalog.BET_TYPES} == {"bet_lifecycle"}


# --- example queries -----------------------------------------------------------------------------


def test_every_example_query_is_tested() -> None:
    tested = {
        "pool_totals_now",
        "final_dividends",
        "race_winners",
        "bet_outcomes",
        "messages_per_hour",
        "dead_letters_by_reason",
        # tests/pipeline/test_sql_reconciliation.py:
        "pool_total_vs_off",
        "pool_at_the_off",
        "dividend_vs_final_pool",
        "non_runners",
        "sweep_repairs",
    }
    assert set(query.query_names()) == tested


def test_pool_totals_now(loaded) -> None:
    assert [
        (r["product_id"], r["is_finalized"], r["gross_gbp"], r["net_gbp"])
        for r in example(loaded, "pool_totals_now")
    ] == [
        (P1, True, Decimal("7000.1"), Decimal("5600.08")),
        (P2, False, Decimal("120"), Decimal("96")),
    ]


def test_final_dividends(loaded) -> None:
    assert [
        (r["product_id"], r["dividend_name"], r["amount"], r["winning_selections"])
        for r in example(loaded, "final_dividends")
    ] == [(P1, "Base", Decimal("12.9"), "sel-1")]


def test_race_winners(loaded) -> None:
    assert [
        (r["event_id"], r["competitor_id"], r["result_status"])
        for r in example(loaded, "race_winners")
    ] == [(EVENT, "runner-b", "FINAL")]


def test_bet_outcomes(loaded) -> None:
    rows = example(loaded, "bet_outcomes")
    assert [
        (r["bet_id"], r["current_state"], r["current_status"], r["returns"], r["messages"])
        for r in rows
    ] == [
        (BET1, "BetSettled", "SETTLED", Decimal("25.5"), 3),
        (BET2, "BetRejected", None, None, 1),
    ]
    assert rows[0]["accepted_at"] == ts(BET_ACCEPTED)
    assert rows[0]["seconds_in_lifecycle"] == 40 * 60


def test_messages_per_hour(loaded) -> None:
    counts: dict[tuple[datetime, str], int] = {}
    for r in ALL_FRAMES:
        hour = ts(r).replace(minute=0, second=0, microsecond=0)
        counts[(hour, r["message_type"])] = counts.get((hour, r["message_type"]), 0) + 1
    rows = example(loaded, "messages_per_hour")
    assert {(r["hour"], r["message_type"]): r["frames"] for r in rows} == counts


def test_dead_letters_by_reason(loaded) -> None:
    assert [
        (r["stage"], r["reason"], r["failures"]) for r in example(loaded, "dead_letters_by_reason")
    ] == [
        ("validate", "missing required field productId", 2),
        ("parse", "not JSON", 1),
    ]


# --- the query helper ----------------------------------------------------------------------------


def test_resolve_sql_takes_names_files_or_text(tmp_path) -> None:
    assert "`p.d.latest_pool_totals`" in query.resolve_sql("pool_totals_now", "p", "d")
    path = tmp_path / "mine.sql"
    path.write_text("SELECT 1 FROM `${project}.${dataset}.t`")
    assert query.resolve_sql(str(path), "p", "d") == "SELECT 1 FROM `p.d.t`"
    assert query.resolve_sql("SELECT '$x' FROM ${dataset}.t", "p", "d") == "SELECT '$x' FROM d.t"


def test_format_rows_aligns_columns_and_shows_null() -> None:
    assert query.format_rows(["a", "bb"], [(1, None), ("long", 2)]).splitlines() == [
        "a     bb",
        "----  ----",
        "1     NULL",
        "long  2",
    ]


def test_query_cli_prints_rows(loaded, capsys: pytest.CaptureFixture[str]) -> None:
    client, dataset = loaded
    assert query.main(["race_winners", "--project", client.project, "--dataset", dataset]) == 0
    out = capsys.readouterr().out
    assert "runner-b" in out and out.rstrip().endswith("(1 row)")


def test_the_analyst_guide_names_every_table_view_and_example_query() -> None:
    guide = (tables.SQL_DIR.parent.parent / "docs" / "analyst.md").read_text()
    names = [*catalog.TABLES, *tables.view_sql("p", "d"), *query.query_names()]
    assert [n for n in names if f"`{n}`" not in guide] == []
