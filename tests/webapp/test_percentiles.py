from __future__ import annotations

from webapp.percentiles import Window


def test_empty_window() -> None:
    assert Window().percentile(0.5) is None
    assert Window().summary() == {"p50": None, "p99": None, "max": None, "samples": 0}


def test_percentiles_over_the_last_samples_only() -> None:
    window = Window(size=100)
    for value in range(1000):  # only 900..999 are kept
        window.add(value / 1000)
    assert len(window) == 100
    assert window.percentile(0.5) == 0.95
    assert window.summary() == {"p50": 950.0, "p99": 999.0, "max": 999.0, "samples": 100}
