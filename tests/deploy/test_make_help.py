"""``make help`` (and plain ``make``) lists every target with a one-line description, and
``make test`` runs the gates before pytest."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deploy.makefile import run_make
from tests.terraform.hcl import ROOT

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _make(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _listed(output: str) -> dict[str, str]:
    return dict(re.findall(r"^  ([a-z][a-z0-9-]*) +(\S.*)$", output, re.M))


def _phony_targets() -> set[str]:
    phony = " ".join(re.findall(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, re.M))
    return set(phony.replace("\\", " ").split())


def test_help_lists_every_phony_target_with_a_description() -> None:
    listed = _listed(_make("help"))
    phony = _phony_targets()
    assert len(phony) > 30
    assert set(listed) == phony, f"without '## description': {sorted(phony - set(listed))}"
    assert all(len(d) > 10 for d in listed.values())


def test_plain_make_is_help() -> None:
    assert _listed(_make()) == _listed(_make("help"))


@pytest.mark.parametrize("gate", ["ruff check .", "ruff format --check .", "mypy"])
def test_make_test_runs_every_gate_before_pytest(gate: str) -> None:
    result = run_make("test")  # make -n: prints the commands, runs nothing
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    pytest_at = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    gate_at = next(i for i, line in enumerate(lines) if line.endswith(f"bin/{gate}"))
    assert gate_at < pytest_at
    assert "|| true" not in "\n".join(lines[: pytest_at + 1])  # a failing gate fails the build
