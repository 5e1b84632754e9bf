"""Strict parsing of query-string parameters of the control API (no I/O, unit-tested).

``str.isdigit`` and ``int`` accept far more than ASCII digits (``"²"`` is a digit to ``isdigit``
but not to ``int``; ``int`` takes Arabic-Indic digits, ``_`` separators, spaces and signs), which
turned ``/status?latency_window=%C2%B2`` into a 500.  Parameters here are ASCII digits only,
short, and within bounds; anything else is a ``ParamError`` the API answers with a JSON 400.
"""

from __future__ import annotations

__all__ = ["ParamError", "parse_bounded_int"]


class ParamError(ValueError):
    """A query parameter is present but unusable; the message names it and the rule."""


def parse_bounded_int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """``raw`` (``None``: absent) as an integer in ``[low, high]`` made of ASCII digits only."""
    if raw is None:
        return default
    rule = f"{name} must be an integer between {low} and {high}"
    if not raw or len(raw) > len(str(high)) or not (raw.isascii() and raw.isdigit()):
        raise ParamError(rule)
    value = int(raw)
    if not low <= value <= high:
        raise ParamError(rule)
    return value
