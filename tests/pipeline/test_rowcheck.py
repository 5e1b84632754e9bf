"""The schema check catches what BigQuery would reject (and the emulator would not)."""

from pipeline.rowcheck import row_problems

SCHEMA = [
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


def test_a_fitting_row_has_no_problems():
    row = {"id": "x", "at": "2026-01-01T00:00:00Z", "ok": True, "money": [{"amount": "1.5"}]}
    assert row_problems(SCHEMA, row) == []


def test_every_kind_of_mismatch_is_reported():
    row = {
        "at": "not a time",
        "ok": "yes",
        "extra": 1,
        "money": [{"amount": 1.5, "tags": "a"}, "x"],
    }
    problems = row_problems(SCHEMA, row)
    assert "extra: no such column" in problems
    assert "id: REQUIRED but missing" in problems
    assert any(p.startswith("at: not an RFC 3339") for p in problems)
    assert "ok: expected BOOL, got str" in problems
    assert "money[0].amount: NUMERIC must be sent as a decimal string, got float" in problems
    assert "money[0].tags: REPEATED needs a list, got str" in problems
    assert "money[1]: RECORD needs an object" in problems


def test_numeric_precision_limit():
    assert row_problems(SCHEMA, {"id": "x", "money": [{"amount": "0.0000000001"}]}) == [
        "money[0].amount: NUMERIC allows 9 decimal places: '0.0000000001'"
    ]
