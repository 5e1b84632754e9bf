"""Every lint or type suppression in the project's packages and their tests names what it
suppresses and says why on its own line (``# noqa: BLE001 - why``, ``# type: ignore[code]  # why``), so each one
can be judged, and removed when the reason goes away (ruff's RUF100 and mypy's
warn_unused_ignores then fail on a stale one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import layout

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(layout.PACKAGES)  # tests/ too: type-checked by make lint
THIS_FILE = Path(__file__).resolve()  # its examples of unjustified suppressions are on purpose
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$", re.I)
JUSTIFIED_NOQA = re.compile(r"^:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*\s+-\s+\S.{3,}")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
JUSTIFIED_IGNORE = re.compile(r"^\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S.{3,}")


def problems(line: str) -> list[str]:
    """What is wrong with the suppressions on one source line (empty: nothing)."""
    found = []
    if (m := NOQA.search(line)) and not JUSTIFIED_NOQA.match(m.group("rest")):
        found.append("noqa without codes and ' - reason'")
    if (m := IGNORE.search(line)) and not JUSTIFIED_IGNORE.match(m.group("rest")):
        found.append("type: ignore without [code] and '  # reason'")
    return found


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("except Exception:  # noqa: BLE001 - every failure is a dead letter", True),
        ("except Exception:  # noqa: BLE001", False),
        ("except Exception:  # noqa", False),
        ("f = open(p)  # noqa: SIM115, BLE001 - closed by close()", True),
        ("x.y = 1  # type: ignore[attr-defined]  # our marker attribute", True),
        ("x.y = 1  # type: ignore[attr-defined]", False),
        ("x.y = 1  # type: ignore", False),
        ("x = 1  # fmt: skip", True),
    ],
)
def test_the_rule(line: str, ok: bool) -> None:
    assert (problems(line) == []) is ok


def test_every_suppression_in_the_packages_is_justified() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {problem}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.resolve() != THIS_FILE
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for problem in problems(line)
    ]
    assert found == []
