"""The row checks real BigQuery's ``insertAll`` makes and bqemulator 1.4.0 skips.

bqemulator silently accepts unknown fields and rows missing REQUIRED fields, and answers a value
it cannot convert with HTTP 500 for the whole request (which google-cloud-bigquery then retries
for up to 10 minutes).  Real BigQuery instead reports per-row ``insertErrors``: ``invalid`` for
the bad row and, unless ``skipInvalidRows``, ``stopped`` for the rows sent alongside it, and
inserts none of them.  The emulator launcher applies these checks so local runs see BigQuery's
behaviour (Beam's ``failed_rows_with_errors`` included), and the tests run every row the pipeline
builds through :func:`row_problems`, so a schema/row mismatch fails there and not in production.
This is the project's one row validator.

Scalars are checked as BigQuery's JSON ingestion reads them: STRING needs a string, BOOL a
boolean, INT64 an integer, NUMERIC a decimal string with at most 9 decimal places, TIMESTAMP an
RFC 3339 string that names a real instant (``2026-02-30`` and hour 25 are refused).

Standard library only, and schemas are BigQuery API dicts (``TableSpec.schema`` shape): the
launcher imports this module from the emulator's own virtualenv.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["insert_error", "row_problems", "stopped_error"]


def row_problems(
    row: Any, fields: Sequence[Mapping[str, Any]], *, ignore_unknown: bool = False
) -> list[tuple[str, str]]:
    """(location, message) for each problem of one row's ``json`` object against ``fields``."""
    if not isinstance(row, Mapping):
        return [("", "Row is not a JSON object.")]
    return _record_problems(row, fields, "", ignore_unknown)


def _record_problems(  # noqa: C901 - one check per BigQuery field mode/type rule, in BigQuery's order
    row: Mapping[str, Any], fields: Sequence[Mapping[str, Any]], prefix: str, ignore_unknown: bool
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    by_name = {f["name"].lower(): f for f in fields}
    if not ignore_unknown:
        problems += [
            (f"{prefix}{key}", f"no such field: {key}.")
            for key in row
            if key.lower() not in by_name
        ]
    for field in fields:
        name = field["name"]
        location = f"{prefix}{name}"
        value = next((v for k, v in row.items() if k.lower() == name.lower()), None)
        mode = (field.get("mode") or "NULLABLE").upper()
        if value is None:
            if mode == "REQUIRED":
                problems.append((location, f"Missing required field: {location}."))
            continue
        values: list[Any] = [value]
        if mode == "REPEATED":
            if not isinstance(value, list):
                problems.append((location, f"Array specified for non-repeated field: {location}."))
                continue
            values = value
        elif isinstance(value, list):
            problems.append((location, f"Array specified for non-repeated field: {location}."))
            continue
        bq_type = (field.get("type") or "").upper()
        if bq_type in ("RECORD", "STRUCT"):
            for item in values:
                if not isinstance(item, Mapping):
                    problems.append((location, f"This field: {location} is not a record."))
                else:
                    problems += _record_problems(
                        item, field.get("fields") or (), f"{location}.", ignore_unknown
                    )
            continue
        for item in values:
            problem = (
                "null inside a REPEATED field" if item is None else scalar_problem(bq_type, item)
            )
            if problem:
                problems.append((location, f"Cannot convert value of {location}: {problem}."))
    return problems


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def scalar_problem(bq_type: str, value: Any) -> str | None:
    """Why BigQuery would refuse ``value`` for a column of ``bq_type``; ``None`` when it fits."""
    kind = type(value).__name__
    if bq_type == "STRING":
        return None if isinstance(value, str) else f"expected STRING, got {kind}"
    if bq_type in ("BOOL", "BOOLEAN"):
        return None if isinstance(value, bool) else f"expected BOOL, got {kind}"
    if bq_type in ("INT64", "INTEGER"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not -(2**63) <= value < 2**63:
            return f"{value} is out of INT64 range"
        return None if ok else f"expected INT64, got {kind}"
    if bq_type in ("FLOAT", "FLOAT64"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"expected FLOAT64, got {kind}"
    if bq_type == "NUMERIC":
        return _numeric_problem(value)
    if bq_type == "TIMESTAMP":
        return _timestamp_problem(value)
    if bq_type == "JSON":
        return None
    return f"unsupported type {bq_type}"


def _numeric_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"NUMERIC must be sent as a decimal string, got {type(value).__name__}"
    try:
        number = Decimal(value)
    except InvalidOperation:
        return f"not a decimal: {value!r}"
    exponent = number.as_tuple().exponent
    if not number.is_finite() or (isinstance(exponent, int) and exponent < -9):
        return f"NUMERIC allows 9 decimal places: {value!r}"
    if abs(number) >= Decimal("1e29"):
        return f"NUMERIC allows 29 integer digits: {value!r}"
    return None


def _timestamp_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"TIMESTAMP must be an RFC 3339 string, got {type(value).__name__}"
    if not _RFC3339.fullmatch(value):
        return f"not an RFC 3339 timestamp: {value!r}"
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    fraction = re.search(r"\.([0-9]+)", text)
    if fraction and len(fraction.group(1)) > 6:  # fromisoformat takes at most microseconds
        text = text.replace(fraction.group(0), fraction.group(0)[:7])
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        return f"not a valid instant: {value!r} ({exc})"
    return None


def insert_error(index: int, problems: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """One ``insertErrors`` entry (reason ``invalid``) in BigQuery's wire shape."""
    return {
        "index": index,
        "errors": [
            {"reason": "invalid", "location": location, "debugInfo": "", "message": message}
            for location, message in problems
        ],
    }


def stopped_error(index: int) -> dict[str, Any]:
    """The entry BigQuery gives a good row not inserted because another row was invalid."""
    return {
        "index": index,
        "errors": [{"reason": "stopped", "location": "", "debugInfo": "", "message": ""}],
    }
