"""The project's top-level Python packages, from the tree itself (a directory with an
``__init__.py``), so a new package is linted, type-checked and boundary-checked without
editing a list in each test that walks them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = frozenset(init.parent.name for init in ROOT.glob("*/__init__.py"))
"""Every top-level package, ``tests`` included."""
PROJECT_PACKAGES = PACKAGES - {"tests"}
"""The packages the product is made of (not its tests)."""
