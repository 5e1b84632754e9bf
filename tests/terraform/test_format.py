"""``terraform fmt -check`` on the whole configuration (skipped without the binary, except in CI)."""

from __future__ import annotations

import subprocess

from tests.terraform.hcl import TERRAFORM
from tests.tools import require_tool


def test_terraform_is_formatted() -> None:
    binary = require_tool("terraform", install="HashiCorp's terraform binary, on PATH")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"run `make tf-fmt`:\n{result.stdout}{result.stderr}"
