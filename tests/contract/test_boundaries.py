"""Package boundaries that keep images small and services independent.

* ``contract`` depends on no other project package and on nothing heavy;
* the connector and the web app entry points load no ``apache_beam`` (they ship without it);
* no production service imports the simulator, the replay tool, ``devstack`` or ``testsupport``.

Imports are checked in a fresh interpreter (``sys.modules`` after import), so an indirect import
through a shared module is caught too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import layout

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = layout.PROJECT_PACKAGES


def _loaded_after_import(*modules: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(
    "entry_points",
    [
        ("connector.__main__", "connector.api"),
        ("webapp.app", "webapp.gunicorn_conf"),
        ("contract.catalog", "contract.ingress", "contract.settings"),
    ],
)
def test_service_entry_points_load_no_beam(entry_points: tuple[str, ...]) -> None:
    loaded = _loaded_after_import(*entry_points)
    assert not {m for m in loaded if m == "apache_beam" or m.startswith("apache_beam.")}
    assert "pipeline" not in loaded


def _imported_packages(package: str) -> set[str]:
    """Top-level project packages that any module of ``package`` imports (static, AST)."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found |= {n.split(".")[0] for n in names} & PROJECT_PACKAGES
    return found - {package}


ALLOWED = {
    "contract": set(),
    "connector": {"contract"},
    "webapp": {"contract"},
    "pipeline": {"contract"},
    "simulator": {"contract"},
    "replay": {"contract"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_it_may(package: str) -> None:
    assert _imported_packages(package) <= ALLOWED[package]


def test_the_connector_image_carries_no_simulator_or_replay_tool() -> None:
    dockerfile = (ROOT / "deploy" / "connector.Dockerfile").read_text()
    copied = {
        line.split()[1].rstrip("/") for line in dockerfile.splitlines() if line.startswith("COPY ")
    }
    assert copied == {"setup.py", "contract", "connector"}
    assert not (ROOT / "connector" / "simulator").exists()
    assert not (ROOT / "connector" / "replay.py").exists()
