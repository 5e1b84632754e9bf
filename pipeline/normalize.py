"""Validate a Tote message against its catalog entry and normalise it into column values.

Each column of a type names the payload paths it may come from and a :class:`~contract.catalog.Kind`
that says how to normalise it.  Keys are looked up in camelCase and, failing that, PascalCase
(Tote's docs show both).  Unknown fields are ignored here (they survive in the ``payload`` column).

Money is exact: amounts arrive as ``Decimal`` (see ``pipeline.envelope``) or strings and leave as
plain decimal strings (``"6645.4"``), which BigQuery NUMERIC accepts and JSON keeps exact.
NUMERIC holds at most 9 decimal places, so more precise amounts are rounded half-even to 9.

Types are strict where a wrong type means a wrong message: ids, slugs, statuses (enums) and
currency codes must be JSON strings (GraphQL serialises ``ID`` and enums as strings; ``betId: 123``
or ``productId: 1e29`` is a ``validate`` dead letter, not ``"123"``/``"1E+29"`` on a typed topic)
of at most :data:`MAX_ID_CHARS` characters (ids become Pub/Sub attributes).  Lenient on purpose,
and documented in ``docs/analyst.md``: money as a number or a numeric string, booleans as
``true``/``false`` strings, free text and finishing positions as numbers.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from contract.catalog import Kind, MessageType

__all__ = ["MAX_ID_CHARS", "ValidationError", "decimal_text", "lookup", "normalize"]

_NINE_PLACES = Decimal("1e-9")
_NUMERIC_MAX = Decimal("1e29")
_EXACT = Context(prec=60)
"""NUMERIC has 38 significant digits; the default context's 28 would round while normalising."""

MAX_ID_CHARS = 256
"""Longest id, slug, status or currency code accepted (Tote's are under 40 characters); they
become Pub/Sub attribute values, which real Pub/Sub caps at 1,024 bytes."""


class ValidationError(ValueError):
    """A message that does not satisfy its catalog entry; ``problems`` lists every issue."""

    def __init__(self, message_type: str, problems: list[str]) -> None:
        super().__init__(f"{message_type}: " + "; ".join(problems))
        self.problems = problems


class _Invalid(ValueError):
    """One field's problem, collected into a ValidationError."""


_PASCAL: dict[str, str] = {}


def _get(obj: Any, key: str) -> Any:
    if type(obj) is not dict:
        return None
    value = obj.get(key)
    if value is None:
        pascal = _PASCAL.get(key)
        if pascal is None:
            pascal = _PASCAL[key] = key[:1].upper() + key[1:]
        value = obj.get(pascal)
    return value


_Steps = tuple[tuple[str, str], ...]


def _steps(path: str) -> _Steps:
    """A dotted path as (camelCase, PascalCase) key pairs, spelt out once per column."""
    return tuple((part, part[:1].upper() + part[1:]) for part in path.split("."))


def _resolve(message: Any, steps: _Steps) -> Any:
    """The value at precomputed steps, or ``None`` (the per-frame path: no splitting, no per-key
    call; :func:`lookup` takes a dotted path)."""
    value = message
    for camel, pascal in steps:
        if type(value) is not dict:
            return None
        found = value.get(camel)
        if found is None:
            found = value.get(pascal)
            if found is None:
                return None
        value = found
    return value


_PATHS: dict[str, _Steps] = {}


def lookup(message: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``total.grossAmounts``), or ``None`` when absent."""
    steps = _PATHS.get(path)
    if steps is None:
        steps = _PATHS[path] = _steps(path)
    return _resolve(message, steps)


def decimal_text(value: Any, what: str = "amount") -> str:
    """An exact decimal string for NUMERIC from a Decimal, int or numeric string."""
    if type(value) is Decimal:
        text = str(value)
        # Fast path: plain notation, at most 9 places, well inside NUMERIC's range.
        if "E" not in text and "N" not in text and "I" not in text and len(text) < 28:
            dot = text.find(".")
            if dot == -1 or len(text) - dot <= 10:
                return text
        number = value
    elif isinstance(value, bool):
        raise _Invalid(f"{what}: expected a number, got a boolean")
    else:
        if isinstance(value, float):  # only from callers that did not parse with Decimal
            value = repr(value)
        try:
            number = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise _Invalid(f"{what}: not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise _Invalid(f"{what}: not a finite number: {value!r}")
    if abs(number) >= _NUMERIC_MAX:
        raise _Invalid(f"{what}: {value!r} is out of NUMERIC range")
    if number.as_tuple().exponent < -9:  # type: ignore[operator]  # finite: an int exponent
        number = number.quantize(_NINE_PLACES, rounding=ROUND_HALF_EVEN, context=_EXACT)
    if number == number.to_integral_value(context=_EXACT):
        number = number.normalize(context=_EXACT)
    return format(number, "f")


def _text(value: Any, what: str) -> str:
    """A non-empty string of at most :data:`MAX_ID_CHARS` (ids, slugs, statuses): no numbers."""
    if not isinstance(value, str):
        raise _Invalid(f"{what}: expected a string, got {_json_type(value)}")
    text = value.strip()
    if not text:
        raise _Invalid(f"{what}: empty string")
    if len(text) > MAX_ID_CHARS:
        raise _Invalid(f"{what}: {len(text)} characters, more than {MAX_ID_CHARS}")
    return text


def _free_text(value: Any, what: str) -> str:
    """Free text: a string, or a number kept as its text (lenient: ``customerBetId: 42``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise _Invalid(f"{what}: expected a string, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages a Tote engineer would recognise."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Decimal, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _Invalid(f"{what}: expected a boolean, got {value!r}")


def _at(what: str, index: int | None) -> str:
    return what if index is None else f"{what}[{index}]"


def _money(money: Any, what: str, index: int | None = None) -> dict[str, Any]:
    """One Money object.  Written for speed (a pool total carries several per frame): the
    field's label (``what[index]``) is built only for an error message, and the camelCase /
    PascalCase lookups of :func:`_get` and the checks of :func:`_text` are inline."""
    if not isinstance(money, dict):
        raise _Invalid(f"{_at(what, index)}: expected a Money object, got {type(money).__name__}")
    amount = money.get("decimalAmount")
    if amount is None:
        amount = money.get("DecimalAmount")
        if amount is None:
            amount = _get(money, "amount")
            if amount is None:
                raise _Invalid(f"{_at(what, index)}: Money without decimalAmount")
    try:
        text = decimal_text(amount)
    except _Invalid:  # again, to name the field in the message
        text = decimal_text(amount, f"{_at(what, index)}.decimalAmount")
    code = money.get("currency")
    if code is None:
        code = money.get("Currency")
    if type(code) is dict:
        code = _get(code, "code")
    if code is None:
        return {"amount": text, "currency": None}
    if type(code) is str:
        stripped = code.strip()
        if stripped and len(stripped) <= MAX_ID_CHARS:
            return {"amount": text, "currency": stripped.upper()}
    # not a usable code: _text raises, naming the field
    return {"amount": text, "currency": _text(code, f"{_at(what, index)}.currency").upper()}


def _money_list(value: Any, what: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):  # a single Money where a list was expected
        value = [value]
    if not isinstance(value, list):
        raise _Invalid(f"{what}: expected a list of Money, got {type(value).__name__}")
    return [_money(m, what, i) for i, m in enumerate(value)]


def _first_money(value: Any, what: str) -> dict[str, Any] | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else _money(value, what)


def _dividends(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _Invalid(f"{what}: expected a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Invalid(f"{what}[{i}]: expected an object")
        dividend = _get(item, "dividend")
        dividend = dividend if isinstance(dividend, dict) else item
        money = _get(dividend, "amount")
        if money is None:
            money = _get(dividend, "amounts")
        amount = (
            _first_money(money, f"{what}[{i}].amount") if isinstance(money, (dict, list)) else None
        )
        if amount is None and money is not None:
            amount = {"amount": decimal_text(money, f"{what}[{i}].amount"), "currency": None}
        selections: list[str] = []
        for j, leg in enumerate(_opt_list(_get(item, "legs"), f"{what}[{i}].legs")):
            where = f"{what}[{i}].legs[{j}].selections"
            for sel in _opt_list(_get(leg, "selections"), where):
                sel_id = _get(sel, "id") or _get(sel, "selectionId")
                if sel_id:
                    selections.append(_text(sel_id, f"{what}[{i}].selection").lower())
        out.append(
            {
                "name": _opt_text(_get(dividend, "name"), f"{what}[{i}].name"),
                "type": _opt_enum(_get(dividend, "type"), f"{what}[{i}].type"),
                "status": _opt_enum(_get(dividend, "status"), f"{what}[{i}].status"),
                "amount": amount["amount"] if amount else None,
                "currency": amount["currency"] if amount else None,
                "selection_ids": selections,
            }
        )
    return out


def _results(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _Invalid(f"{what}: expected a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Invalid(f"{what}[{i}]: expected an object")
        position = _get(item, "finishingPosition")
        if position is None:
            position = _get(item, "position")
        competitor = _get(item, "competitorId") or _get(item, "id")
        out.append(
            {
                "competitor_id": _opt_text(competitor, f"{what}[{i}].competitorId"),
                "finishing_position": _opt_position(position, f"{what}[{i}].finishingPosition"),
                "status": _opt_enum(_get(item, "status"), f"{what}[{i}].status"),
            }
        )
    return out


def _opt_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"{what}: expected a list, got {_json_type(value)}")
    return value


def _opt_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _opt_enum(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what).upper()


def _opt_position(value: Any, what: str) -> str | None:
    """A finishing position: an integer or a string (lenient: ``1`` and ``"1"`` alike)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value, what)


def _money_field(field: str) -> Any:
    def convert(value: Any, what: str) -> Any:
        money = _first_money(value, what)
        return money[field] if money else None

    return convert


_CONVERTERS: dict[Kind | None, Any] = {
    Kind.ID: lambda value, what: _text(value, what).lower(),
    Kind.SLUG: _text,
    Kind.TEXT: _free_text,
    Kind.ENUM: lambda value, what: _text(value, what).upper(),
    Kind.BOOL: _bool,
    Kind.MONEY_LIST: _money_list,
    Kind.MONEY_AMOUNT: _money_field("amount"),
    Kind.MONEY_CURRENCY: _money_field("currency"),
    Kind.DIVIDENDS: _dividends,
    Kind.RESULTS: _results,
}
"""How each kind of column is normalised (the catalog test checks every kind has one)."""


def _with_synonyms(convert: Any, synonyms: dict[str, str]) -> Any:
    """``convert``, then the column's catalog synonyms (``ACTIVE`` → ``AVAILABLE``), if any."""
    if not synonyms:
        return convert
    return lambda value, what: (lambda out: synonyms.get(out, out))(convert(value, what))


_Plan = tuple[tuple[str, Any, tuple[tuple[str, _Steps], ...], bool, Any], ...]
_PLANS: dict[str, _Plan] = {}


def _plan(message_type: MessageType) -> _Plan:
    """Per type, once: (column, converter, (source, steps) pairs, required, empty value) for
    each column."""
    plan = _PLANS.get(message_type.name)
    if plan is None:
        plan = _PLANS[message_type.name] = tuple(
            (
                c.name,
                _with_synonyms(_CONVERTERS[c.kind], dict(c.synonyms)),
                tuple((source, _steps(source)) for source in c.sources),
                c.required,
                [] if c.mode == "REPEATED" else None,
            )
            for c in message_type.columns
        )
    return plan


def normalize(message_type: MessageType, message: dict[str, Any]) -> dict[str, Any]:
    """Column values for ``message``; raises :class:`ValidationError` listing every problem.

    Optional columns whose sources are absent are ``None`` (repeated ones ``[]``); a required
    column that is absent or invalid, or an optional one present with a wrong type, is a problem.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, convert, sources, required, empty in _plan(message_type):
        raw = None
        source = sources[0][0]
        for path, steps in sources:
            raw = _resolve(message, steps)
            if raw is not None:
                source = path
                break
        if raw is None:
            if required:
                problems.append(f"missing required field {sources[0][0]}")
            values[name] = list(empty) if empty is not None else None
            continue
        try:
            values[name] = convert(raw, source)
        except _Invalid as exc:
            problems.append(str(exc))
    if problems:
        raise ValidationError(message_type.name, problems)
    return values
