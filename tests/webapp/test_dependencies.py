"""The web app's security-relevant dependency floors in ``setup.py``."""

from __future__ import annotations

import ast
from pathlib import Path

import jwt
from packaging.specifiers import SpecifierSet
from packaging.version import Version

SETUP = Path(__file__).resolve().parents[2] / "setup.py"


def _requirement(prefix: str) -> str:
    strings = [
        node.value
        for node in ast.walk(ast.parse(SETUP.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    return next(s for s in strings if s.startswith(prefix))


def test_pyjwt_excludes_the_iss_substring_bug() -> None:
    """PyJWT 2.10.0 checked ``iss`` as a substring (CVE-2024-53861): ``>=2.10.1``."""
    specifiers = SpecifierSet(_requirement("PyJWT[crypto]").removeprefix("PyJWT[crypto]"))
    assert "2.10.0" not in specifiers and "2.9.0" not in specifiers
    assert "2.10.1" in specifiers
    assert Version(jwt.__version__) in specifiers  # what the tests ran against
