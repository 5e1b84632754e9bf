"""Typed reads of environment variables, shared by the connector's and the web app's settings.

Each reader returns the default for an unset or blank variable and raises ``error`` (the
caller's own exception type) naming the variable for a value it cannot use, so a bad setting
stops a service at start-up rather than at the first request.  Plain functions, no I/O beyond
the mapping they are given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["env_bool", "env_float", "env_int", "env_list"]

_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


def env_int(
    env: Mapping[str, str],
    name: str,
    default: int,
    minimum: int = 0,
    error: type[ValueError] = ValueError,
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise error(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0.0,
    error: type[ValueError] = ValueError,
    maximum: float | None = None,
) -> float:
    """A finite number in ``[minimum, maximum]``: ``nan`` and ``inf`` parse as floats but are no
    usable setting (a ``nan`` timeout or deadline never compares as reached)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise error(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise error(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and not value <= maximum:
        raise error(f"{name} must be between {minimum:g} and {maximum:g}, got {raw!r}")
    if not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {raw!r}")
    return value


def env_bool(
    env: Mapping[str, str], name: str, default: bool, error: type[ValueError] = ValueError
) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise error(f"{name} must be true or false, got {raw!r}")


def env_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())
