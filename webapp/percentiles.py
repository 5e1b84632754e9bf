"""A small rolling window of durations and its percentiles, for ``/status``.

Bounded (the last ``size`` samples), append-only from one writer, read by ``/status``: cheap
enough to feed on every event or dispatcher tick.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Window"]


class Window:
    def __init__(self, size: int = 1000) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._samples.append(value)

    def __len__(self) -> int:
        return len(self._samples)

    def percentile(self, fraction: float) -> float | None:
        """Nearest-rank percentile (``fraction`` in 0..1), ``None`` without samples."""
        values = sorted(self._samples)
        if not values:
            return None
        return values[min(len(values) - 1, int(fraction * len(values)))]

    def summary(self, scale: float = 1000.0, digits: int = 1) -> dict[str, float | int | None]:
        """``{"p50", "p99", "max", "samples"}`` with values multiplied by ``scale`` (s -> ms)."""
        values = sorted(self._samples)
        if not values:
            return {"p50": None, "p99": None, "max": None, "samples": 0}

        def pick(fraction: float) -> float:
            return round(values[min(len(values) - 1, int(fraction * len(values)))] * scale, digits)

        return {
            "p50": pick(0.5),
            "p99": pick(0.99),
            "max": round(values[-1] * scale, digits),
            "samples": len(values),
        }
