"""Validation and normalisation against the catalog: exact money, tolerant shapes, clear errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract import catalog
from pipeline.normalize import MAX_ID_CHARS, ValidationError, decimal_text, lookup, normalize
from testsupport import examples


def _spec(name):
    spec = catalog.by_name(name)
    assert spec is not None
    return spec


def test_pool_total_money_is_exact_decimal_text():
    message = examples.example_message(
        "PoolTotalChanged",
        total={
            "grossAmounts": [{"decimalAmount": Decimal("1881.80"), "currency": {"code": "gbp"}}],
            "netAmounts": [{"decimalAmount": Decimal("0.1"), "currency": {"code": "GBP"}}],
        },
    )
    values = normalize(_spec("PoolTotalChanged"), message)
    assert values["gross_amounts"] == [{"amount": "1881.80", "currency": "GBP"}]
    assert values["net_amounts"] == [{"amount": "0.1", "currency": "GBP"}]
    assert values["product_id"] == examples.PRODUCT_ID


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("6645.4"), "6645.4"),
        (Decimal("1E+3"), "1000"),
        (12, "12"),
        ("0.30", "0.30"),
        (Decimal("0.1234567891234"), "0.123456789"),
        (0.1, "0.1"),
    ],
)
def test_decimal_text(value, text):
    assert decimal_text(value) == text


@pytest.mark.parametrize("bad", ["abc", "NaN", True, Decimal("1e40"), None])
def test_decimal_text_rejects(bad):
    with pytest.raises(ValueError):
        decimal_text(bad)


def test_ids_are_lowercased_and_statuses_uppercased_and_pascal_case_keys_accepted():
    message = {
        "ProductId": "3F1C6A9E-5B7D-4C2E-9A1F-0D8E7B6C5A41",
        "LegId": "A",
        "SelectionId": " B ",
        "Status": "Not_Available ",
    }
    values = normalize(_spec("SelectionStatusChanged"), message)
    assert values == {
        "product_id": "3f1c6a9e-5b7d-4c2e-9a1f-0d8e7b6c5a41",
        "leg_id": "a",
        "selection_id": "b",
        "status": "NOT_AVAILABLE",
    }


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Active", "AVAILABLE"),
        ("inactive", "NOT_AVAILABLE"),
        ("SUSPENDED", "NOT_AVAILABLE"),
        ("Available", "AVAILABLE"),
        ("Closed", "CLOSED"),
    ],
)
def test_selection_statuses_are_stored_in_the_querys_vocabulary(sent, stored):
    message = {"productId": "p", "selectionId": "s", "status": sent}
    assert normalize(_spec("SelectionStatusChanged"), message)["status"] == stored


def test_status_synonyms_apply_only_to_their_column():
    message = {"productId": "p", "status": "Active"}
    assert normalize(_spec("ProductStatusChanged"), message)["status"] == "ACTIVE"


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as info:
        normalize(_spec("CompetitorStatusChanged"), {"eventId": 42.5, "status": ""})
    problems = info.value.problems
    assert "missing required field competitorId" in problems
    assert any("status: empty string" in p for p in problems)
    assert str(info.value).startswith("CompetitorStatusChanged: ")


def test_wrong_types_are_problems_even_for_optional_fields():
    message = examples.example_message("PoolTotalChanged", isFinalized="maybe")
    with pytest.raises(ValidationError, match="isFinalized: expected a boolean"):
        normalize(_spec("PoolTotalChanged"), message)
    message = examples.example_message("PoolTotalChanged", total={"grossAmounts": "lots"})
    with pytest.raises(ValidationError, match="expected a list of Money"):
        normalize(_spec("PoolTotalChanged"), message)


def test_optional_absent_columns_are_null_or_empty():
    values = normalize(_spec("PoolTotalChanged"), {"productId": "p"})
    assert values["is_finalized"] is None
    assert values["gross_amounts"] == [] and values["net_amounts"] == []


def test_unknown_fields_are_tolerated():
    message = examples.example_message("ProductStatusChanged", brandNewField={"x": 1})
    assert normalize(_spec("ProductStatusChanged"), message)["status"] == "OPEN"


def test_dividends_flatten_winning_selections_and_accept_a_flat_shape():
    nested = normalize(
        _spec("PoolDividendChanged"), examples.example_message("PoolDividendChanged")
    )
    assert nested["dividends"] == [
        {
            "name": "Base",
            "type": "POOL",
            "status": "PROVISIONAL",
            "amount": "12.7",
            "currency": "GBP",
            "selection_ids": [examples.SELECTION_ID],
        }
    ]
    flat = {
        "productId": "p",
        "dividends": [{"name": "Enhanced", "type": "fixed", "status": "final", "amount": "3.5"}],
    }
    (dividend,) = normalize(_spec("PoolDividendChanged"), flat)["dividends"]
    assert (dividend["type"], dividend["status"], dividend["amount"], dividend["currency"]) == (
        "FIXED",
        "FINAL",
        "3.5",
        None,
    )


def test_results_accept_either_list_name_and_keep_positions_as_text():
    message = {"eventId": "E", "results": [{"competitorId": "C", "finishingPosition": 2}]}
    values = normalize(_spec("EventResultChanged"), message)
    assert values["competitor_results"] == [
        {"competitor_id": "C", "finishing_position": "2", "status": None}
    ]


def test_bet_returns_money_is_split_into_amount_and_currency():
    values = normalize(_spec("BetResulted"), examples.example_message("BetResulted"))
    assert (values["returns_amount"], values["returns_currency"], values["status"]) == (
        "25.5",
        "GBP",
        "WON",
    )


def test_lookup_follows_dotted_paths():
    assert lookup({"a": {"B": 1}}, "a.b") == 1
    assert lookup({"a": 1}, "a.b") is None


def test_every_kind_has_a_converter():
    from contract.catalog import Kind
    from pipeline.normalize import _CONVERTERS

    assert set(_CONVERTERS) == set(Kind)


# --- Strict types for ids and statuses (numbers used to reach the typed topics) ---


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("BetAccepted", "betId", 123),
        ("PoolTotalChanged", "productId", Decimal("1E+29")),
        ("ProductStatusChanged", "productId", True),
        ("ProductStatusChanged", "status", 3),
        ("ProductStatusChanged", "status", {"code": "OPEN"}),
        ("CompetitorStatusChanged", "eventId", ["e1"]),
        ("SelectionStatusChanged", "selectionId", Decimal("1.5")),
        ("ProductStatusChanged", "productId", "p" * (MAX_ID_CHARS + 1)),
    ],
)
def test_ids_and_statuses_must_be_strings(name, field, value):
    message = examples.example_message(name, **{field: value})
    with pytest.raises(ValidationError) as info:
        normalize(_spec(name), message)
    assert any(p.startswith(f"{field}:") for p in info.value.problems), info.value.problems


def test_wrong_types_inside_dividends_and_results_are_problems_not_text():
    dividends = examples.example_message("PoolDividendChanged")["dividends"]
    bad_legs = [{**dividends[0], "legs": 5}]
    with pytest.raises(ValidationError, match=r"legs: expected a list, got number"):
        normalize(_spec("PoolDividendChanged"), {"productId": "p", "dividends": bad_legs})
    bad_status = [{**dividends[0], "dividend": {**dividends[0]["dividend"], "status": {"x": 1}}}]
    with pytest.raises(ValidationError, match=r"status: expected a string, got object"):
        normalize(_spec("PoolDividendChanged"), {"productId": "p", "dividends": bad_status})
    results = [{"competitorId": "c1", "finishingPosition": {"n": 1}}]
    with pytest.raises(ValidationError, match="finishingPosition: expected a string"):
        normalize(_spec("EventResultChanged"), {"eventId": "e", "results": results})


def test_documented_lenient_cases_are_kept():
    """docs/analyst.md lists these: money as a number or a string, booleans as strings,
    free text and finishing positions as numbers."""
    message = examples.example_message(
        "PoolTotalChanged",
        isFinalized="TRUE",
        total={"grossAmounts": [{"decimalAmount": "12.50"}], "netAmounts": [{"amount": 3}]},
    )
    values = normalize(_spec("PoolTotalChanged"), message)
    assert values["is_finalized"] is True
    assert values["gross_amounts"] == [{"amount": "12.50", "currency": None}]
    assert values["net_amounts"] == [{"amount": "3", "currency": None}]
    bet = normalize(_spec("BetAccepted"), examples.example_message("BetAccepted", customerBetId=42))
    assert bet["customer_bet_id"] == "42"
    results = [{"competitorId": "c1", "finishingPosition": 1}, {"id": "c2", "position": "2"}]
    values = normalize(_spec("EventResultChanged"), {"eventId": "e", "results": results})
    assert [r["finishing_position"] for r in values["competitor_results"]] == ["1", "2"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # 29 integer digits: the default 28-digit context used to round this while normalising
        (Decimal("12345678901234567890123456789"), "12345678901234567890123456789"),
        # 23 integer digits + 10 places: quantize to 9 places used to raise InvalidOperation
        ("12345678901234567890123.1234567891", "12345678901234567890123.123456789"),
        (Decimal("1E-30"), "0"),
    ],
)
def test_decimal_text_is_exact_across_numeric_range(value, text):
    assert decimal_text(value) == text


@pytest.mark.parametrize(
    ("money", "problem"),
    [
        ("6645.4", "total.grossAmounts[1]: expected a Money object, got str"),
        ({"currency": {"code": "GBP"}}, "total.grossAmounts[1]: Money without decimalAmount"),
        ({"decimalAmount": "abc"}, "total.grossAmounts[1].decimalAmount: not a decimal number"),
        ({"decimalAmount": Decimal("1e30")}, "total.grossAmounts[1].decimalAmount: "),
        ({"decimalAmount": 1, "currency": {"code": 7}}, "total.grossAmounts[1].currency: expected"),
        ({"decimalAmount": 1, "currency": " "}, "total.grossAmounts[1].currency: empty string"),
    ],
)
def test_money_problems_name_the_element_and_field(money, problem):
    """The labels are built only when something is wrong (not for every Money of every frame):
    they must still name the list element and the field."""
    good = {"decimalAmount": Decimal("1.5"), "currency": {"code": "GBP"}}
    message = examples.example_message(
        "PoolTotalChanged", total={"grossAmounts": [good, money], "netAmounts": [good]}
    )
    with pytest.raises(ValidationError) as caught:
        normalize(_spec("PoolTotalChanged"), message)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_money_values_and_currencies_when_valid():
    message = examples.example_message(
        "PoolTotalChanged",
        total={
            "grossAmounts": [{"decimalAmount": Decimal("10.50"), "currency": {"code": " gbp "}}],
            "NetAmounts": {"Amount": "3", "Currency": "eur"},  # PascalCase, a single Money
        },
    )
    values = normalize(_spec("PoolTotalChanged"), message)
    assert values["gross_amounts"] == [{"amount": "10.50", "currency": "GBP"}]
    assert values["net_amounts"] == [{"amount": "3", "currency": "EUR"}]
