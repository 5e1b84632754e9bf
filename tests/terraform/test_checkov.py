"""checkov (a well-kept IaC scanner, run offline) over ``terraform/``: no unexplained finding.

A finding is either fixed or skipped in the resource itself with ``#checkov:skip=ID:reason``;
this test fails on any failed check and on any skip without a reason.  checkov lives in its own
virtualenv (``.iacvenv``, ``make install``); without it the test is skipped, except in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.terraform.hcl import ROOT, TERRAFORM
from tests.tools import missing_tool

CHECKOV = ROOT / ".iacvenv" / "bin" / "checkov"


def _run() -> dict[str, Any]:
    if not CHECKOV.exists():
        missing_tool("checkov is not installed (make install creates .iacvenv)")
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",  # offline: no policy metadata download
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "LOG_LEVEL": "WARNING",
    }
    argv = [str(CHECKOV), "--directory", str(TERRAFORM), "--framework", "terraform"]
    argv += ["--skip-download", "--download-external-modules", "false"]
    argv += ["--output", "json", "--compact"]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(
            f"checkov gave no JSON report:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    passed = [c for r in reports for c in r.get("results", {}).get("passed_checks", [])]
    return {"failed": failed, "skipped": skipped, "passed": passed}


@pytest.fixture(scope="module")
def findings() -> dict[str, Any]:
    return _run()


def test_terraform_has_no_failed_check(findings: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): "
        f"{c['check_name']}"
        for c in findings["failed"]
    ]
    assert not failed, "fix, or skip inline with #checkov:skip=ID:reason:\n" + "\n".join(failed)
    assert findings["passed"], "checkov checked nothing (the scan would be vacuous)"


def test_every_skip_says_why(findings: dict[str, Any]) -> None:
    unexplained = [
        f"{c['check_id']} {c['resource']}"
        for c in findings["skipped"]
        if len((c.get("check_result") or {}).get("suppress_comment", "").strip()) < 10
    ]
    assert not unexplained, unexplained
