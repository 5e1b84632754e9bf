"""docs/security.md states limits with their values: each must match the code it names."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text()

_ROW = re.compile(r"^\| ([^|]+) \| ([0-9][0-9,.]*) [^|]*\| `([a-z_]+\.[A-Za-z_.]+)` \|", re.M)
ROWS = _ROW.findall(DOC)


def _resolve(path: str) -> object:
    """``package.module.NAME`` or ``package.module.Class.field`` (a dataclass default)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            if dataclasses.is_dataclass(target):
                fields = {f.name: f for f in dataclasses.fields(target)}
                if name in fields:
                    target = fields[name].default
                    continue
            target = getattr(target, name)
        return target
    raise LookupError(path)


def test_the_limits_table_was_parsed():
    assert len(ROWS) >= 20
    names = {where for _, _, where in ROWS}
    assert "contract.ingress.MAX_FRAME_BYTES" in names


@pytest.mark.parametrize(("limit", "value", "where"), ROWS, ids=[r[2] for r in ROWS])
def test_documented_limit_matches_the_code(limit, value, where):
    documented = float(value.replace(",", ""))
    assert _resolve(where) == documented, f"{limit}: docs say {value}, {where} differs"


@pytest.mark.parametrize(
    "module", ["contract.ingress", "pipeline.envelope", "pipeline.normalize", "pipeline.records"]
)
def test_every_limit_of_the_hostile_input_modules_is_documented(module):
    names = [
        n
        for n in vars(importlib.import_module(module))
        if re.fullmatch(r"(?!_)[A-Z_]*MAX[A-Z_]*", n)
    ]
    assert names
    for name in names:
        assert f"`{module}.{name}`" in DOC, f"{module}.{name} is not in docs/security.md"


def test_websocket_limit_claim_matches_the_connector():
    from contract.ingress import MAX_FRAME_BYTES

    assert "max_size=MAX_FRAME_BYTES * 4" in (ROOT / "connector" / "client.py").read_text()
    assert f"{MAX_FRAME_BYTES * 4:,} bytes" in DOC


def test_every_dead_letter_stage_the_core_assigns_is_documented():
    from tests.fuzz.hostile import KNOWN_STAGES

    for stage in (*KNOWN_STAGES, "internal", "bigquery"):
        assert f"| `{stage}` |" in DOC
