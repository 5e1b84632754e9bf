"""``terraform fmt -check`` on the whole configuration (skipped without the binary, except in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.terraform.hcl import TERRAFORM


def test_terraform_is_formatted() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("terraform is not installed, and CI must check formatting")
        pytest.skip("terraform binary not installed (install it to check formatting)")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"run `make tf-fmt`:\n{result.stdout}{result.stderr}"
