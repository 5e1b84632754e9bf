"""Check gcloud command lines against the installed SDK's command tree (offline, fast).

A misspelt or nonexistent command or flag in the Makefile or the docs would otherwise only
show when a data engineer runs it against a real project.  The SDK ships its whole command
tree with every flag for shell completion (``data/cli/gcloud_completions.py``); reading it takes
a second, where running ``gcloud ... --help`` per command takes one or two each.  Without the
SDK the check skips the test that asked for it (fails it under CI: see ``tests/tools.py``).
"""

from __future__ import annotations

import functools
import runpy
import shutil
from pathlib import Path
from typing import Any

from tests.tools import missing_tool

__all__ = ["assert_flags_exist", "command_tree", "flags", "require_command_tree"]


def flags(argv: list[str]) -> dict[str, str]:
    """``--name=value`` / ``--name`` arguments of a command line, by name."""
    out = {}
    for arg in argv:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            out[name] = value
    return out


@functools.cache
def command_tree() -> dict[str, Any] | None:
    """The SDK's static command tree, or ``None`` when the SDK is not installed."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    tree = Path(gcloud).resolve().parent.parent / "data" / "cli" / "gcloud_completions.py"
    if not tree.exists():
        return None
    return runpy.run_path(str(tree))["STATIC_COMPLETION_CLI_TREE"]


def require_command_tree() -> dict[str, Any]:
    """The SDK's command tree; skips (fails under CI) the current test without the SDK."""
    tree = command_tree()
    if tree is None:
        missing_tool(
            "the Google Cloud SDK (gcloud with data/cli/gcloud_completions.py) is not installed "
            "(apt-get install google-cloud-cli, or make system-deps): gcloud flags unchecked"
        )
        raise AssertionError("unreachable: missing_tool skips or fails")
    return tree


def assert_flags_exist(argv: list[str]) -> None:
    """The command path exists and every ``--flag`` is one of its flags (or a global flag)."""
    assert argv[0] == "gcloud"
    tree = require_command_tree()
    node, path = tree, []
    for word in (a for a in argv[1:] if not a.startswith("-")):
        if word not in node["commands"]:
            break  # the rest are positional arguments
        node = node["commands"][word]
        path.append(word)
    assert path and not node["commands"], f"no such gcloud command: {' '.join(argv[:5])}"
    known = set(node["flags"]) | set(tree["flags"])
    for flag in flags(argv):
        assert flag in known, f"gcloud {' '.join(path)} has no {flag}"
