"""Typed environment reads: defaults, valid values, and errors of the caller's type."""

import pytest

from contract.settings import env_bool, env_float, env_int, env_list


class Bad(ValueError):
    pass


def test_defaults_for_unset_or_blank():
    assert env_int({}, "N", 7) == 7
    assert env_float({"F": "  "}, "F", 1.5) == 1.5
    assert env_bool({}, "B", True) is True
    assert env_list({}, "L") == ()


def test_values_are_parsed():
    assert env_int({"N": " 12 "}, "N", 0) == 12
    assert env_float({"F": "0.25"}, "F", 0.0) == 0.25
    assert env_bool({"B": "Off"}, "B", True) is False
    assert env_list({"L": "a, ,b"}, "L") == ("a", "b")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: env_int({"N": "x"}, "N", 0, error=Bad), "N must be an integer, got 'x'"),
        (lambda: env_int({"N": "-1"}, "N", 0, error=Bad), "N must be >= 0, got -1"),
        (lambda: env_float({"F": "fast"}, "F", 0.0, error=Bad), "F must be a number"),
        (lambda: env_bool({"B": "maybe"}, "B", True, error=Bad), "B must be true or false"),
    ],
)
def test_bad_values_raise_the_callers_error_naming_the_variable(call, message):
    with pytest.raises(Bad, match=message):
        call()


def test_floats_must_be_finite_and_within_an_optional_maximum() -> None:
    for raw in ("nan", "inf", "-nan"):
        with pytest.raises(ValueError, match="X must be a finite number"):
            env_float({"X": raw}, "X", 1.0)
    with pytest.raises(ValueError, match="X must be between 0 and 5"):
        env_float({"X": "inf"}, "X", 1.0, maximum=5.0)
    with pytest.raises(ValueError, match="X must be between 0 and 5"):
        env_float({"X": "5.5"}, "X", 1.0, maximum=5.0)
    assert env_float({"X": "5"}, "X", 1.0, maximum=5.0) == 5.0
