"""The Terraform-managed job (opt-in) and the Makefile launch the same job the same way."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.makefile import PROJECT, make_dry_run
from tests.terraform.hcl import ROOT, load

METADATA = json.loads((ROOT / "deploy" / "flex_template" / "metadata.json").read_text())


def _job() -> dict[str, Any]:
    return load().resource("google_dataflow_flex_template_job", "pipeline")


def test_job_is_opt_in_so_only_one_tool_manages_it() -> None:
    assert _job()["count"] == "${var.dataflow_job_enabled ? 1 : 0}"
    assert load().variable_default("dataflow_job_enabled") is False


def test_same_name_and_template_as_the_makefile() -> None:
    config = load()
    job = _job()
    assert job["name"] == "${var.dataflow_job_name}"
    name = config.variable_default("dataflow_job_name")
    command = make_dry_run("dataflow-run")
    assert f"flex-template run {name} " in command
    template = config.evaluate(
        config.locals["template_path"].replace(
            "${local.dataflow_bucket}", f"{PROJECT}-tote-dataflow"
        )
    )
    assert job["container_spec_gcs_path"] == "${local.template_path}"
    assert f"--template-file-gcs-location={template}" in command


def test_streaming_engine_drain_on_delete_and_dataflow_account() -> None:
    job = _job()
    assert job["enable_streaming_engine"] is True
    assert job["on_delete"] == "drain"
    assert job["service_account_email"] == "${google_service_account.dataflow.email}"


def test_parameters_are_template_parameters() -> None:
    names = {p["name"] for p in METADATA["parameters"]}
    assert set(_job()["parameters"]) <= names
