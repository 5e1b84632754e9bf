"""docs/connector.md states the sweep settings, their defaults and the simulator's query-side
faults; these checks keep the text true."""

from __future__ import annotations

import re
from pathlib import Path

from connector.settings import Settings
from simulator.server import Simulator, SimulatorConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "connector.md").read_text(encoding="utf-8")

SWEEP_VARIABLES = {
    "TOTE_PARTNER_ID": ("partner_id", "tote-realtime"),
    "SWEEP_PAGE_SIZE": ("sweep_page_size", "50"),
    "SWEEP_PERIOD_SECONDS": ("sweep_period_seconds", "300"),
    "SWEEP_HOURS": ("sweep_hours", "06:00-23:00"),
}


def _row(variable: str) -> list[str]:
    for line in DOC.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and f"`{variable}`" in cells[0]:
            return cells
    raise AssertionError(f"{variable} is not in the configuration table")


def test_every_sweep_setting_is_documented_with_its_real_default() -> None:
    defaults = Settings.from_env({})
    for variable, (attr, documented) in SWEEP_VARIABLES.items():
        row = _row(variable)
        assert f"`{documented}`" in row[1], (variable, row)
        assert str(getattr(defaults, attr)).removesuffix(".0") == documented
    row = _row("SWEEP_TIMEOUT_SECONDS")
    assert row[1] == "`10` / `4` / `2`"
    assert (defaults.sweep_timeout_seconds, defaults.sweep_retries, defaults.sweep_concurrency) == (
        10,
        4,
        2,
    )
    assert "`TOTE_GRAPHQL_URL`" in _row("TOTE_GRAPHQL_URL")[0] and defaults.graphql_url == ""
    source = (Path(__file__).resolve().parents[2] / "connector" / "settings.py").read_text()
    for var in set(re.findall(r"`((?:SWEEP|TOTE)_[A-Z_]+)`", DOC)):
        assert f'"{var}"' in source, f"{var} is documented but the connector never reads it"


def test_documented_simulator_faults_exist() -> None:
    simulator = Simulator(SimulatorConfig())
    for path in sorted(set(re.findall(r"`(/faults/[a-z-]+)", DOC))):
        coro = simulator._fault(path, {})
        assert coro is not None, f"{path} is documented but the simulator does not know it"
        coro.close()
