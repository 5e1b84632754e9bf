"""The insertAll row checks the emulator launcher adds (BigQuery's behaviour, bqemulator's gap)."""

from __future__ import annotations

from devstack.insert_validation import insert_error, row_problems, stopped_error
from pipeline.catalog import TABLES

DIVIDENDS = TABLES["pool_dividend_changed"].schema


def good_dividend_row() -> dict:
    return {
        "frame_id": "f1",
        "received_at": "2026-11-26T10:00:00.123Z",
        "message_type": "PoolDividendChanged",
        "ingested_at": "2026-11-26T10:00:01.000Z",
        "payload": "{}",
        "product_id": "p1",
        "dividends": [{"name": "Base", "amount": "6645.4", "selection_ids": ["s1", "s2"]}],
    }


def test_a_row_built_like_the_pipeline_has_no_problems() -> None:
    assert row_problems(good_dividend_row(), DIVIDENDS) == []


def test_missing_and_null_required_fields_are_reported() -> None:
    row = good_dividend_row()
    del row["frame_id"]
    row["payload"] = None
    assert row_problems(row, DIVIDENDS) == [
        ("frame_id", "Missing required field: frame_id."),
        ("payload", "Missing required field: payload."),
    ]


def test_unknown_fields_are_reported_also_inside_records_unless_ignored() -> None:
    row = good_dividend_row()
    row["surprise"] = 1
    row["dividends"][0]["odd"] = "x"
    assert row_problems(row, DIVIDENDS) == [
        ("surprise", "no such field: surprise."),
        ("dividends.odd", "no such field: odd."),
    ]
    assert row_problems(row, DIVIDENDS, ignore_unknown=True) == []


def test_repeated_shape_is_checked() -> None:
    row = good_dividend_row()
    row["dividends"] = {"name": "Base"}
    row["product_id"] = ["p1"]
    locations = [location for location, _ in row_problems(row, DIVIDENDS)]
    assert locations == ["product_id", "dividends"]
    row = good_dividend_row()
    row["dividends"] = ["not a record"]
    assert row_problems(row, DIVIDENDS) == [("dividends", "This field: dividends is not a record.")]


def test_a_row_that_is_not_an_object_is_invalid() -> None:
    assert row_problems(["x"], DIVIDENDS) == [("", "Row is not a JSON object.")]


def test_error_entries_have_bigquery_wire_shape() -> None:
    assert insert_error(3, [("a", "bad")]) == {
        "index": 3,
        "errors": [{"reason": "invalid", "location": "a", "debugInfo": "", "message": "bad"}],
    }
    assert stopped_error(1)["errors"][0]["reason"] == "stopped"
