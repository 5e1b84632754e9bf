"""The deployment guide and runbook: every command is a Makefile target or plain gcloud/bq, the
targets exist and accept the variables the docs pass, and every alert links to a real section."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.deploy.gcloud import assert_flags_exist
from tests.deploy.makefile import run_make
from tests.terraform.hcl import ROOT, load

DOCS = ROOT / "docs"
GUIDES = ["deployment.md", "operations.md"]
ALLOWED_PROGRAMS = {"make", "gcloud", "bq"}


def _code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _commands(name: str) -> list[list[str]]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [
        shlex.split(line)
        for block in _code_blocks(text, "bash")
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))


@pytest.mark.parametrize("name", GUIDES)
def test_every_command_is_make_gcloud_or_bq(name: str) -> None:
    commands = _commands(name)
    assert commands, f"{name} has no commands"
    for argv in commands:
        assert argv[0] in ALLOWED_PROGRAMS, f"{name}: {' '.join(argv)}"


@pytest.mark.parametrize("name", GUIDES)
def test_make_commands_name_real_targets_and_dry_run(name: str) -> None:
    targets = _make_targets()
    for argv in _commands(name):
        if argv[0] != "make":
            continue
        named = [a for a in argv[1:] if "=" not in a]
        assert named and set(named) <= targets, f"{name}: {' '.join(argv)}"
        variables = dict(a.split("=", 1) for a in argv[1:] if "=" in a)
        for target in named:
            project = variables.pop("PROJECT", None)
            region = variables.pop("REGION", None)
            extra = [f"{k}={v}" for k, v in variables.items()]
            result = run_make(target, *extra, project=project, region=region)
            assert result.returncode == 0, f"{name}: {' '.join(argv)}\n{result.stderr}"


@pytest.mark.parametrize("name", GUIDES)
def test_gcloud_commands_use_real_flags(name: str) -> None:
    gcloud = [argv for argv in _commands(name) if argv[0] == "gcloud"]
    assert gcloud
    for argv in gcloud:
        assert_flags_exist(argv)


def test_guide_covers_the_whole_path_in_order() -> None:
    order = [
        argv[1]
        for argv in _commands("deployment.md")
        if argv[0] == "make"
        and argv[1] in {"tf-state-bucket", "tf-init", "tf-bootstrap", "deploy", "dataflow-run"}
    ]
    assert order[:5] == ["tf-state-bucket", "tf-init", "tf-bootstrap", "deploy", "dataflow-run"]
    text = (DOCS / "deployment.md").read_text(encoding="utf-8")
    for topic in ("## 8. Verify", "## 9. Rolling updates", "## 10. Drain", "## 11. Teardown"):
        assert topic in text
    assert "make dataflow-update" in text and "make dataflow-drain" in text


def test_secret_commands_read_values_from_stdin() -> None:
    adds = [a for a in _commands("deployment.md") if a[:3] == ["gcloud", "secrets", "versions"]]
    secrets = set(load().locals["secrets"].values())
    assert {a[4] for a in adds} == secrets
    assert all(a[5] == "--data-file=-" for a in adds)


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_every_alert_links_to_a_runbook_section() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    runbook = load().locals["runbook"]
    assert runbook.endswith("/docs/operations.md")
    for name, policy in load().of_type("google_monitoring_alert_policy").items():
        content = policy["documentation"][0]["content"].replace("${local.runbook}", runbook)
        link = re.search(r"operations\.md#([a-z0-9-]+)", content)
        assert link, name
        assert link.group(1) in anchors, f"{name} links to a missing section #{link.group(1)}"


def test_design_note_covers_regions_dedup_sse_and_costs() -> None:
    text = (DOCS / "design-multi-region-and-costs.md").read_text(encoding="utf-8")
    for needle in ("frame_id", "Semantic dedup", "Last-Event-ID", "messages per second", "Total"):
        assert needle in text
