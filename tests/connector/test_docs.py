"""docs/connector.md's configuration table states the defaults the code really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connector import gunicorn_worker
from connector.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "connector.md"
NOT_SETTINGS = {"PORT", "HOST"}  # gunicorn's bind (gunicorn_conf.py)


def documented_defaults() -> list[tuple[str, str]]:
    """``(VARIABLE, default)`` for every table row whose defaults are backticked values."""
    pairs: list[tuple[str, str]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        defaults = re.findall(r"`([^`]*)`", cells[1])
        if names and len(names) == len(defaults):
            pairs.extend(zip(names, defaults, strict=True))
    return pairs


PAIRS = documented_defaults()


def test_the_table_is_read() -> None:
    names = {name for name, _ in PAIRS}
    assert {"WATCHDOG_SECONDS", "FLUSH_TIMEOUT_SECONDS", "DEAD_LETTER_PATH"} <= names


@pytest.mark.parametrize(("name", "default"), [p for p in PAIRS if p[0] not in NOT_SETTINGS])
def test_documented_default_is_the_real_one(name: str, default: str) -> None:
    if name == "REQUEST_READ_TIMEOUT_SECONDS":
        assert float(default) == gunicorn_worker.REQUEST_READ_TIMEOUT_SECONDS
        return
    source = (DOC.parents[1] / "connector" / "settings.py").read_text(encoding="utf-8")
    assert f'"{name}"' in source, f"{name} is documented but Settings does not read it"
    # setting a variable to its documented default must change nothing
    assert Settings.from_env({name: default}) == Settings.from_env({})
