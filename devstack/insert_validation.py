"""The row checks real BigQuery's ``insertAll`` makes and bqemulator 1.4.0 skips.

bqemulator silently accepts unknown fields and rows missing REQUIRED fields, and answers a value
it cannot convert with HTTP 500 for the whole request (which google-cloud-bigquery then retries
for up to 10 minutes).  Real BigQuery instead reports per-row ``insertErrors``: ``invalid`` for
the bad row and, unless ``skipInvalidRows``, ``stopped`` for the rows sent alongside it, and
inserts none of them.  The emulator launcher applies these checks so local runs see BigQuery's
behaviour (Beam's ``failed_rows_with_errors`` included).

Standard library only, and schemas are BigQuery API dicts (``TableSpec.schema`` shape): the
launcher imports this module from the emulator's own virtualenv.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["insert_error", "row_problems", "stopped_error"]


def row_problems(
    row: Any, fields: Sequence[Mapping[str, Any]], *, ignore_unknown: bool = False
) -> list[tuple[str, str]]:
    """(location, message) for each problem of one row's ``json`` object against ``fields``."""
    if not isinstance(row, Mapping):
        return [("", "Row is not a JSON object.")]
    return _record_problems(row, fields, "", ignore_unknown)


def _record_problems(
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
        if (field.get("type") or "").upper() in ("RECORD", "STRUCT"):
            for item in values:
                if not isinstance(item, Mapping):
                    problems.append((location, f"This field: {location} is not a record."))
                else:
                    problems += _record_problems(
                        item, field.get("fields") or (), f"{location}.", ignore_unknown
                    )
    return problems


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
