"""External tools some tests need (gcloud SDK, terraform, chromium).

Without the tool a developer's run skips those checks with a reason that says how to get it;
under CI (``CI=true``, set by ``.ci/run``) a missing tool fails instead, because CI installs
every expected tool (``make system-deps``) and a silent skip there would hide an unchecked claim.
"""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["in_ci", "missing_tool", "require_tool"]


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set to anything but empty, ``0``, ``false`` or ``no``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_tool(reason: str) -> None:
    """Skip (developer machine) or fail (CI) the current test because a tool is missing."""
    if in_ci():
        pytest.fail(f"{reason}: required in CI, which installs it (make system-deps, make install)")
    pytest.skip(reason)


def require_tool(*names: str, install: str) -> str:
    """The path of the first of ``names`` on ``PATH``; otherwise :func:`missing_tool`."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    missing_tool(f"{' or '.join(names)} is not installed ({install})")
    raise AssertionError("unreachable: missing_tool skips or fails")
