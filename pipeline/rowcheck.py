"""Check a row against a BigQuery table schema the way BigQuery's streaming insert would.

The local emulator accepts unknown fields, missing REQUIRED fields and wrong types silently,
while BigQuery rejects them; the tests run every row the pipeline builds through this check so a
schema/row mismatch fails here instead of in production.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pipeline.ingress import parse_timestamp

__all__ = ["row_problems"]


def _scalar_problem(bq_type: str, value: Any) -> str | None:
    if bq_type == "STRING":
        return None if isinstance(value, str) else f"expected STRING, got {type(value).__name__}"
    if bq_type == "BOOL":
        return None if isinstance(value, bool) else f"expected BOOL, got {type(value).__name__}"
    if bq_type in ("INT64", "INTEGER"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected INT64, got {type(value).__name__}"
    if bq_type == "NUMERIC":
        if not isinstance(value, str):
            return f"NUMERIC must be sent as a decimal string, got {type(value).__name__}"
        try:
            number = Decimal(value)
        except InvalidOperation:
            return f"not a decimal: {value!r}"
        exponent = number.as_tuple().exponent
        if not number.is_finite() or (isinstance(exponent, int) and exponent < -9):
            return f"NUMERIC allows 9 decimal places: {value!r}"
        return None
    if bq_type == "TIMESTAMP":
        if not isinstance(value, str):
            return f"TIMESTAMP must be an RFC 3339 string, got {type(value).__name__}"
        try:
            parse_timestamp(value)
        except ValueError as exc:
            return str(exc)
        return None
    return f"unsupported type {bq_type}"


def row_problems(schema: list[dict[str, Any]], row: dict[str, Any], path: str = "") -> list[str]:
    """Every way ``row`` violates ``schema`` (BigQuery API field dicts); empty when it fits."""
    problems: list[str] = []
    fields = {f["name"]: f for f in schema}
    for name in row:
        if name not in fields:
            problems.append(f"{path}{name}: no such column")
    for name, spec in fields.items():
        where = f"{path}{name}"
        mode = spec.get("mode", "NULLABLE")
        value = row.get(name)
        if value is None:
            if mode == "REQUIRED":
                problems.append(f"{where}: REQUIRED but missing")
            continue
        items = value if mode == "REPEATED" else [value]
        if mode == "REPEATED" and not isinstance(value, list):
            problems.append(f"{where}: REPEATED needs a list, got {type(value).__name__}")
            continue
        for i, item in enumerate(items):
            at = f"{where}[{i}]" if mode == "REPEATED" else where
            if spec["type"] in ("RECORD", "STRUCT"):
                if not isinstance(item, dict):
                    problems.append(f"{at}: RECORD needs an object")
                else:
                    problems.extend(row_problems(spec.get("fields", []), item, f"{at}."))
            elif item is None:
                problems.append(f"{at}: null inside a REPEATED field")
            else:
                problem = _scalar_problem(spec["type"], item)
                if problem:
                    problems.append(f"{at}: {problem}")
    return problems
