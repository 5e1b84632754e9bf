"""Small helpers shared by the benchmarks: percentiles and a uniform report line."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile", "report"]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def report(name: str, **numbers: float | int | str) -> str:
    """``name: k=v k=v`` with floats rounded, printed and returned."""
    parts = []
    for key, value in numbers.items():
        parts.append(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    line = f"{name}: " + " ".join(parts)
    print(line, flush=True)
    return line
