"""Generate the Dataflow flex template metadata from the pipeline's own options.

Dataflow shows these parameters in the console and validates them before launching, so they
must be exactly the flags ``pipeline.options.ToteOptions`` accepts.  Writing the file by hand
would let the two drift; this generator reads the argparse definitions (name, help, default,
type, choices) and adds a validation regex per flag.  A new flag without a regex here makes the
generator fail, and ``tests/deploy`` fails while the committed file is stale.

Run: ``python -m deploy.flex_template_metadata`` (or ``make template-metadata``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.options import ToteOptions

__all__ = ["METADATA_PATH", "REGEXES", "metadata", "option_actions", "render"]

METADATA_PATH = Path(__file__).resolve().parent / "flex_template" / "metadata.json"

_PROJECT = r"[a-z][-a-z0-9]{4,28}[a-z0-9]"
_PUBSUB_NAME = r"[a-zA-Z][-a-zA-Z0-9_.~+%]{2,254}"

REGEXES: dict[str, str] = {
    "ingress_subscription": rf"^(projects/{_PROJECT}/subscriptions/)?{_PUBSUB_NAME}$",
    "pubsub_project": rf"^{_PROJECT}$",
    "bq_project": rf"^{_PROJECT}$",
    "dataset": r"^[A-Za-z0-9_]{1,1024}$",
    "topic_prefix": r"^([a-zA-Z][-a-zA-Z0-9_.~+%]*)?$",
}
"""Regexes for string flags; integer flags and flags with choices get theirs automatically."""


def option_actions() -> list[argparse.Action]:
    """The argparse actions ``ToteOptions`` registers (its flags only, not Beam's)."""
    parser = argparse.ArgumentParser(add_help=False)
    ToteOptions._add_argparse_args(parser)
    return [a for a in parser._actions if a.option_strings]


def _regex(action: argparse.Action) -> str:
    if action.choices:
        return "^(" + "|".join(str(c) for c in action.choices) + ")$"
    if action.type is int:
        return r"^[0-9]+$"
    try:
        return REGEXES[action.dest]
    except KeyError:
        raise SystemExit(
            f"--{action.dest} has no validation regex: add one to deploy/flex_template_metadata.py"
        ) from None


def _help(action: argparse.Action) -> str:
    text = (action.help or "").strip()
    if action.default not in (None, ""):
        text += f" Default: {action.default}."
    return text


def metadata() -> dict[str, Any]:
    """The metadata document ``gcloud dataflow flex-template build --metadata-file`` takes."""
    return {
        "name": "tote-pipeline",
        "description": "tote-realtime: Tote frames from the ingress subscription, parsed, "
        "validated, deduplicated and routed to BigQuery, the typed topics and dead letters.",
        "streaming": True,
        "parameters": [
            {
                "name": action.dest,
                "label": action.dest.replace("_", " "),
                "helpText": _help(action),
                "isOptional": True,
                "regexes": [_regex(action)],
            }
            for action in option_actions()
        ],
    }


def render() -> str:
    return json.dumps(metadata(), indent=2) + "\n"


def main() -> int:
    METADATA_PATH.write_text(render(), encoding="utf-8")
    print(METADATA_PATH.relative_to(METADATA_PATH.parent.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
