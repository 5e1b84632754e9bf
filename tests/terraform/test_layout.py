"""The module layout and its inputs: typed, described, only project_id and region required."""

from __future__ import annotations

import pytest

from tests.terraform.hcl import TERRAFORM, load

REQUIRED = {"project_id", "region", "runbook_base_url"}


@pytest.mark.parametrize("name", ["main.tf", "variables.tf", "outputs.tf", "versions.tf"])
def test_standard_files_exist(name: str) -> None:
    assert (TERRAFORM / name).is_file()


def test_every_file_parses_and_has_content() -> None:
    config = load()
    assert set(config.files) >= {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}
    assert len(config.resources) > 30


def test_variables_are_typed_and_described() -> None:
    for name, body in load().variables.items():
        assert body.get("type"), f"variable {name} has no type"
        assert len(str(body.get("description", ""))) > 10, f"variable {name} is not described"


def test_only_project_region_and_runbook_url_are_required() -> None:
    required = {name for name, body in load().variables.items() if "default" not in body}
    assert required == REQUIRED


def test_outputs_are_described() -> None:
    outputs = load().outputs
    assert {"connector_url", "webapp_url", "image_repository", "template_path"} <= set(outputs)
    for name, body in outputs.items():
        assert body.get("description"), f"output {name} is not described"


def test_flex_template_job_uses_the_beta_provider() -> None:
    job = load().resource("google_dataflow_flex_template_job", "pipeline")
    assert job["provider"] == "google-beta"
    versions = load().files["versions.tf"]["terraform"][0]
    providers = versions["required_providers"][0]
    assert {"google", "google-beta"} <= set(providers)
