"""Run the Makefile's deploy targets as a dry run (``make -n``) to see the exact commands."""

from __future__ import annotations

import subprocess

from tests.terraform.hcl import ROOT

PROJECT = "tote-prod-123"
REGION = "europe-west2"


def make_dry_run(
    target: str, *extra: str, project: str | None = PROJECT, region: str | None = REGION
) -> str:
    """The commands ``make -n target`` would run; raises with make's message on failure."""
    result = run_make(target, *extra, project=project, region=region)
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_make(
    target: str, *extra: str, project: str | None = PROJECT, region: str | None = REGION
) -> subprocess.CompletedProcess[str]:
    args = ["make", "--no-print-directory", "-n", target, "IMAGE_TAG=abc123"]
    if project is not None:
        args.append(f"PROJECT={project}")
    if region is not None:
        args.append(f"REGION={region}")
    return subprocess.run(
        [*args, *extra], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
