"""Strict query-parameter parsing: ASCII digits only, bounded, clear message."""

from __future__ import annotations

import pytest

from connector.queryparams import ParamError, parse_bounded_int


def test_valid_values_and_default() -> None:
    assert parse_bounded_int(None, "n", 10, 1, 100) == 10
    assert parse_bounded_int("1", "n", 10, 1, 100) == 1
    assert parse_bounded_int("100", "n", 10, 1, 100) == 100
    assert parse_bounded_int("007", "n", 10, 1, 100) == 7


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0",
        "101",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1_0",
        "\u00b2",
        "\u0663",
        "\uff11\uff12",
        "5.0",
        "lots",
        "9" * 50,
    ],
)
def test_anything_else_is_a_param_error_naming_the_parameter(raw: str) -> None:
    with pytest.raises(ParamError, match="latency_window must be an integer between 1 and 100"):
        parse_bounded_int(raw, "latency_window", 10, 1, 100)
