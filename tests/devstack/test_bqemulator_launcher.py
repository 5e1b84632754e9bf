"""The BigQuery emulator launcher refuses a bqemulator its patches were not written for.

The launcher runs in the emulator's own virtualenv, so these tests run it there
(``--check``: apply every patch, then exit without starting a server).
"""

from __future__ import annotations

import subprocess

import pytest

from devstack.bigquery_emulator import LAUNCHER, bqemulator_python

pytestmark = pytest.mark.bigquery


def run_launcher(before_check: str = "") -> subprocess.CompletedProcess[str]:
    """``main(["--check"])`` in the emulator's virtualenv, after ``before_check`` ran there."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(LAUNCHER.parent)!r})\n"
        "import bqemulator_launcher\n"
        f"{before_check}\n"
        "sys.exit(bqemulator_launcher.main(['--check']))\n"
    )
    return subprocess.run(
        [str(bqemulator_python()), "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_patch_applies_to_the_pinned_release() -> None:
    result = run_launcher()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "bqemulator 1.4.0: every launcher patch applies" in result.stdout


def test_the_pin_matches_the_requirements_file() -> None:
    requirements = (LAUNCHER.parent / "bqemulator-requirements.txt").read_text().splitlines()
    source = LAUNCHER.read_text()
    assert "bqemulator==1.4.0" in requirements
    assert 'BQEMULATOR_VERSION = "1.4.0"' in source


@pytest.mark.parametrize(
    ("sabotage", "message"),
    [
        ("import bqemulator; bqemulator.__version__ = '1.5.0'", "but 1.5.0 is installed"),
        (
            "from bqemulator.storage import engine; del engine.DuckDBEngine._load_spatial",
            "DuckDBEngine._load_spatial no longer exists",
        ),
        (
            "from bqemulator.api.routes import tables\n"
            "tables._table_to_rest = lambda table, fields=None: {}",
            "_table_to_rest takes ('table', 'fields'), the patch expects ('t',)",
        ),
        (
            "from bqemulator.api.routes import tabledata\n"
            "tabledata.router.routes[:] = [r for r in tabledata.router.routes"
            " if getattr(r, 'endpoint', None) is not tabledata.insert_all]",
            "expected one insertAll route, found 0",
        ),
    ],
    ids=["version", "moved", "signature", "route"],
)
def test_a_miss_stops_the_launcher_with_what_moved(sabotage: str, message: str) -> None:
    result = run_launcher(sabotage)
    assert result.returncode == 3, result.stderr[-2000:]
    assert message in result.stderr
    assert "every launcher patch applies" not in result.stdout
