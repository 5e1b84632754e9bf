"""The insertAll row checks the emulator launcher adds (BigQuery's behaviour, bqemulator's gap)."""

from __future__ import annotations

from typing import Any

from contract.catalog import TABLES
from devstack.insert_validation import insert_error, row_problems, stopped_error

DIVIDENDS = TABLES["pool_dividend_changed"].schema


def good_dividend_row() -> dict[str, Any]:
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


SCALARS: list[dict[str, Any]] = [
    {"name": "id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "ok", "type": "BOOL", "mode": "NULLABLE"},
    {
        "name": "money",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [
            {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        ],
    },
]


def test_scalars_of_the_wrong_type_are_reported_as_bigquery_would() -> None:
    row = {"id": 5, "at": "not a time", "ok": "yes", "money": [{"amount": 1.5, "tags": ["a", 2]}]}
    problems = dict(row_problems(row, SCALARS))
    assert "expected STRING, got int" in problems["id"]
    assert "not an RFC 3339 timestamp" in problems["at"]
    assert "expected BOOL, got str" in problems["ok"]
    assert "NUMERIC must be sent as a decimal string, got float" in problems["money.amount"]
    assert "expected STRING, got int" in problems["money.tags"]


def test_numeric_precision_and_range_limits() -> None:
    assert row_problems({"id": "x", "money": [{"amount": "0.000000001"}]}, SCALARS) == []
    (problem,) = row_problems({"id": "x", "money": [{"amount": "0.0000000001"}]}, SCALARS)
    assert "9 decimal places" in problem[1]
    (problem,) = row_problems({"id": "x", "money": [{"amount": "1E+29"}]}, SCALARS)
    assert "29 integer digits" in problem[1]


def test_timestamps_must_name_a_real_instant_in_ascii_digits() -> None:
    good = [
        "2026-02-28T10:00:00.123Z",
        "2026-02-28T10:00:00Z",
        "2026-02-28T10:00:00.123456789+01:00",
    ]
    for text in good:
        assert row_problems({"id": "x", "at": text}, SCALARS) == [], text
    bad = [
        "2026-02-30T10:00:00.000Z",
        "2026-13-01T10:00:00.000Z",
        "2026-01-01T25:00:00.000Z",
        "2026-01-01T10:00:00.000",
        "\uff12026-01-01T10:00:00.000Z",  # fullwidth digit two
        "2026-01-0\u0661T10:00:00.000Z",  # Arabic-Indic digit one
    ]
    for text in bad:
        assert row_problems({"id": "x", "at": text}, SCALARS), text


def test_int64_is_range_checked():
    from devstack.insert_validation import scalar_problem

    assert scalar_problem("INT64", 2**63 - 1) is None
    assert scalar_problem("INT64", -(2**63)) is None
    assert "out of INT64 range" in (scalar_problem("INT64", 2**63) or "")
    assert "expected INT64" in (scalar_problem("INTEGER", True) or "")
