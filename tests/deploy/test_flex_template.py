"""The flex template: metadata parameters are exactly the pipeline's options; the launcher image
runs the pipeline's real entry point with the project's setup.py."""

from __future__ import annotations

import ast
import json
import re
import sys
from typing import Any

import pytest

from deploy import flex_template_metadata as generator
from pipeline.options import ToteOptions
from tests.terraform.hcl import ROOT

FLEX = ROOT / "deploy" / "flex_template"


def _metadata() -> dict[str, Any]:
    return json.loads((FLEX / "metadata.json").read_text(encoding="utf-8"))


def _option_flags() -> set[str]:
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    ToteOptions._add_argparse_args(parser)
    return {a.dest for a in parser._actions if a.option_strings}


def test_committed_metadata_is_up_to_date() -> None:
    assert (FLEX / "metadata.json").read_text(encoding="utf-8") == generator.render(), (
        "run `make template-metadata`"
    )


def test_parameters_are_exactly_the_pipeline_options() -> None:
    names = [p["name"] for p in _metadata()["parameters"]]
    assert len(names) == len(set(names))
    assert set(names) == _option_flags()


def test_every_parameter_is_documented_and_validated() -> None:
    for param in _metadata()["parameters"]:
        assert len(param["helpText"]) > 15, param["name"]
        assert param["regexes"], param["name"]
        for regex in param["regexes"]:
            re.compile(regex)
    assert _metadata()["streaming"] is True


def test_regexes_accept_the_defaults_and_real_values() -> None:
    by_name = {p["name"]: re.compile(p["regexes"][0]) for p in _metadata()["parameters"]}
    for action in generator.option_actions():
        if action.default not in (None, ""):
            assert by_name[action.dest].fullmatch(str(action.default)), action.dest
    good = {
        "ingress_subscription": "projects/tote-prod-123/subscriptions/tote-ingress-pipeline",
        "pubsub_project": "tote-prod-123",
        "dataset": "tote_staging",
        "topic_prefix": "staging-",
        "bigquery": "off",
    }
    for name, value in good.items():
        assert by_name[name].fullmatch(value), name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ingress_subscription", "projects/x/subscriptions/"),
        ("pubsub_project", "Not_A_Project"),
        ("transport_dedup_window_s", "ten"),
        ("bigquery", "maybe"),
        ("dataset", "tote-prod"),
    ],
)
def test_regexes_reject_bad_values(name: str, value: str) -> None:
    regex = next(p["regexes"][0] for p in _metadata()["parameters"] if p["name"] == name)
    assert not re.fullmatch(regex, value)


def test_a_new_string_option_without_a_regex_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(generator.REGEXES, "dataset")
    with pytest.raises(SystemExit, match="--dataset has no validation regex"):
        generator.metadata()


def _dockerfile_env(path) -> dict[str, str]:
    env: dict[str, str] = {}
    args: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"ARG (\w+)=(\S+)", line):
            args[m.group(1)] = m.group(2)
        if m := re.match(r'ENV (\w+)="?([^"]*)"?$', line):
            env[m.group(1)] = re.sub(r"\$\{(\w+)\}", lambda a: args[a.group(1)], m.group(2))
    return env


def test_launcher_image_runs_the_pipeline_entry_point() -> None:
    dockerfile = FLEX / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    assert re.search(
        r"^FROM gcr\.io/dataflow-templates-base/python311-template-launcher-base", text, re.M
    )
    env = _dockerfile_env(dockerfile)
    workdir_line = re.search(r"^WORKDIR (\S+)", text, re.M)
    assert workdir_line, "no WORKDIR in the launcher Dockerfile"
    workdir = workdir_line.group(1)
    assert workdir == "${WORKDIR}"
    py_file = env["FLEX_TEMPLATE_PYTHON_PY_FILE"]
    setup_file = env["FLEX_TEMPLATE_PYTHON_SETUP_FILE"]
    assert py_file == "/template/pipeline/main.py"
    assert setup_file == "/template/setup.py"
    # The files the launcher runs are copied into the image and exist in the repository.
    assert "COPY setup.py ./" in text and "COPY pipeline/ ./pipeline/" in text
    main = ROOT / "pipeline" / "main.py"
    tree = ast.parse(main.read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test) for n in tree.body), (
        "pipeline/main.py must run when executed as a script"
    )


def test_launcher_installs_the_beam_extra_of_the_project() -> None:
    text = (FLEX / "Dockerfile").read_text(encoding="utf-8")
    assert "'.[beam]'" in text
    assert "apache-beam[gcp]==2.77" in (ROOT / "setup.py").read_text(encoding="utf-8")


def test_no_pipeline_module_shadows_the_standard_library() -> None:
    """main.py runs as a script in the launcher, with pipeline/ first on sys.path."""
    modules = {p.stem for p in (ROOT / "pipeline").glob("*.py")} | {
        p.name for p in (ROOT / "pipeline").iterdir() if (p / "__init__.py").exists()
    }
    assert modules & sys.stdlib_module_names == set()
    assert "PYTHONPATH" in _dockerfile_env(FLEX / "Dockerfile")
