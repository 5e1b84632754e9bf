"""The Makefile's deploy targets: the exact cloud commands, checked with ``make -n``.

Where the Google Cloud SDK is installed, every gcloud flag used is checked against the
command's own ``--help`` so a misspelt flag fails here rather than at launch time.
"""

from __future__ import annotations

import re
import shlex

import pytest

from tests.deploy.gcloud import assert_flags_exist, flags
from tests.deploy.makefile import PROJECT, REGION, make_dry_run, run_make
from tests.terraform.hcl import ROOT, load

CLOUD_TARGETS = [
    "tf-state-bucket",
    "tf-init",
    "tf-bootstrap",
    "tf-plan",
    "tf-apply",
    "tf-destroy",
    "build-and-push",
    "template-build",
    "dataflow-run",
    "dataflow-update",
    "dataflow-drain",
    "dataflow-status",
    "deploy",
    "connector-status",
    "connector-start",
    "connector-stop",
]
BUCKET = f"gs://{PROJECT}-tote-dataflow"
REPO = f"{REGION}-docker.pkg.dev/{PROJECT}/tote"


def _commands(output: str) -> list[list[str]]:
    joined = output.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


@pytest.mark.parametrize("target", CLOUD_TARGETS)
def test_cloud_targets_require_project(target: str) -> None:
    result = run_make(target, project=None)
    assert result.returncode != 0
    assert "PROJECT is not set" in result.stderr


@pytest.mark.parametrize("target", ["dataflow-run", "build-and-push", "tf-plan"])
def test_cloud_targets_require_region(target: str) -> None:
    result = run_make(target, region=None)
    assert result.returncode != 0
    assert "REGION is not set" in result.stderr


def _run_command(target: str, *extra: str) -> list[str]:
    (command,) = [c for c in _commands(make_dry_run(target, *extra)) if c[0] == "gcloud"]
    return command


def test_dataflow_run_launches_the_streaming_job_from_the_template() -> None:
    argv = _run_command("dataflow-run")
    assert argv[:5] == ["gcloud", "dataflow", "flex-template", "run", "tote-pipeline"]
    given = flags(argv)
    assert given["--project"] == PROJECT
    assert given["--region"] == REGION
    assert given["--template-file-gcs-location"] == f"{BUCKET}/templates/tote-pipeline.json"
    assert given["--service-account-email"] == f"tote-dataflow@{PROJECT}.iam.gserviceaccount.com"
    assert given["--staging-location"].startswith(BUCKET)
    assert given["--temp-location"].startswith(BUCKET)
    assert "--enable-streaming-engine" in given
    assert "--update" not in given
    params = dict(p.split("=", 1) for p in given["--parameters"].split(","))
    assert params == {"pubsub_project": PROJECT, "bq_project": PROJECT}
    assert_flags_exist(argv)


def test_service_account_is_the_one_terraform_creates() -> None:
    account = load().resource("google_service_account", "dataflow")["account_id"]
    given = flags(_run_command("dataflow-run"))
    assert given["--service-account-email"].split("@")[0] == account


def test_dataflow_update_is_the_same_launch_with_update() -> None:
    run = _run_command("dataflow-run")
    update = _run_command("dataflow-update")
    assert update[: len(run)] == run, "same job name, template and parameters"
    assert update[len(run) :] == ["--update"]
    mapped = _run_command("dataflow-update", "TRANSFORM_NAME_MAPPINGS=Old=New")
    assert mapped[len(run) :] == ["--update", "--transform-name-mappings=Old=New"]
    assert_flags_exist(mapped)


def test_dataflow_drain_drains_the_active_job_by_name() -> None:
    text = make_dry_run("dataflow-drain")
    assert "gcloud dataflow jobs list" in text and "--status=active" in text
    assert "name=tote-pipeline" in text
    assert re.search(r"gcloud dataflow jobs drain \$job_id --project=\S+ --region=" + REGION, text)


def test_template_build_uses_the_generated_metadata_and_the_pushed_launcher() -> None:
    argv = _run_command("template-build")
    assert argv[:4] == ["gcloud", "dataflow", "flex-template", "build"]
    assert argv[4] == f"{BUCKET}/templates/tote-pipeline.json"
    given = flags(argv)
    assert given["--metadata-file"] == "deploy/flex_template/metadata.json"
    assert (ROOT / given["--metadata-file"]).is_file()
    assert given["--sdk-language"] == "PYTHON"
    assert given["--image"] == f"{REPO}/dataflow-launcher:abc123"
    pushed = make_dry_run("build-and-push")
    assert f"-t {given['--image']} ." in pushed
    assert_flags_exist(argv)


def test_build_and_push_builds_every_dockerfile_for_cloud_run() -> None:
    text = make_dry_run("build-and-push")
    builds = re.findall(r"docker buildx build .*?-f (\S+) -t (\S+) \.", text)
    assert {f for f, _ in builds} == {
        "deploy/connector.Dockerfile",
        "deploy/webapp.Dockerfile",
        "deploy/flex_template/Dockerfile",
    }
    for dockerfile, tag in builds:
        assert (ROOT / dockerfile).is_file()
        assert tag.startswith(f"{REPO}/") and tag.endswith(":abc123")
    assert text.count("--push") == 3
    assert "--platform=linux/amd64" in text


def test_terraform_gets_the_images_that_were_pushed() -> None:
    plan = make_dry_run("tf-plan")
    pushed = make_dry_run("build-and-push")
    for image in ("connector", "webapp"):
        ref = f"{REPO}/{image}:abc123"
        assert f"{image}_image={ref}" in plan
        assert f"-t {ref} ." in pushed
    assert f"project_id={PROJECT}" in plan and f"region={REGION}" in plan


def test_bootstrap_targets_exist_in_the_configuration() -> None:
    text = make_dry_run("tf-bootstrap")
    targets = re.findall(r"-target=(\S+)", text)
    assert targets
    for address in targets:
        rtype, name = address.split(".")
        assert (rtype, name) in load().resources, address


def test_deploy_runs_the_steps_in_order() -> None:
    text = make_dry_run("deploy")
    steps = ["tf-bootstrap", "build-and-push", "template-build", "tf-apply"]
    assert re.search(r"make\S* .*" + r"\s+".join(steps), text)


def test_tf_init_uses_the_state_bucket() -> None:
    text = make_dry_run("tf-init")
    assert f"-backend-config=bucket={PROJECT}-tfstate" in text


@pytest.mark.parametrize("action", ["start", "stop"])
def test_manual_start_stop_runs_the_scheduler_jobs_terraform_creates(action: str) -> None:
    argv = _run_command(f"connector-{action}")
    assert argv[:5] == ["gcloud", "scheduler", "jobs", "run", f"tote-connector-{action}"]
    assert flags(argv)["--location"] == REGION
    job = load().resource("google_cloud_scheduler_job", "connector")
    assert load().evaluate(job["name"], each_key=action) == f"tote-connector-{action}"
    assert_flags_exist(argv)


def test_connector_status_calls_the_control_api_with_an_identity_token() -> None:
    text = make_dry_run("connector-status")
    assert "gcloud auth print-identity-token" in text
    assert "gcloud run services describe tote-connector" in text
    assert text.rstrip().endswith('/status"')
    name = load().resource("google_cloud_run_v2_service", "connector")["name"]
    assert name == "tote-connector"


def test_makefile_defaults_name_what_terraform_creates() -> None:
    """Image repository and Dataflow bucket: the Makefile's defaults are Terraform's names."""
    config = load()
    assert config.locals["image_repo"] == (
        "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository}"
    )
    repo = f"{REGION}-docker.pkg.dev/{PROJECT}/{config.variable_default('artifact_repository')}"
    assert repo == REPO
    assert config.locals["dataflow_bucket"] == (
        '${coalesce(var.dataflow_bucket, "${var.project_id}-tote-dataflow")}'
    )
    assert config.variable_default("dataflow_bucket") is None
    terraform_default = re.search(
        r'"\$\{var\.project_id\}([^"]*)"', config.locals["dataflow_bucket"]
    )
    assert terraform_default, config.locals["dataflow_bucket"]
    bucket = f"gs://{PROJECT}{terraform_default.group(1)}"
    assert flags(_run_command("dataflow-run"))["--staging-location"] == f"{bucket}/staging"
