"""The service images start the processes the components define, and ship only what they need."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.terraform.hcl import ROOT

DEPLOY = ROOT / "deploy"

SERVICES = {
    # image: (Dockerfile, gunicorn config, app module, app factory)
    "connector": (
        "connector.Dockerfile",
        "connector/gunicorn_conf.py",
        "connector/api.py",
        "create_app",
    ),
    "webapp": ("webapp.Dockerfile", "webapp/gunicorn_conf.py", "webapp/app.py", "create_app"),
}


def _cmd(dockerfile: Path) -> list[str]:
    line = next(
        ln for ln in dockerfile.read_text(encoding="utf-8").splitlines() if ln.startswith("CMD ")
    )
    return json.loads(line.removeprefix("CMD "))


@pytest.mark.parametrize("image", sorted(SERVICES))
def test_cmd_is_gunicorn_with_the_components_config_and_factory(image: str) -> None:
    dockerfile, conf, module, factory = SERVICES[image]
    cmd = _cmd(DEPLOY / dockerfile)
    assert cmd[:3] == ["gunicorn", "-c", conf]
    module_name = module.removesuffix(".py").replace("/", ".")
    assert cmd[3] == f"{module_name}:{factory}()"
    assert (ROOT / conf).is_file(), f"{conf} (the image's gunicorn config) is missing"
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.FunctionDef) and n.name == factory for n in tree.body)


@pytest.mark.parametrize("image", sorted(SERVICES))
def test_image_listens_on_cloud_runs_port_and_is_not_root(image: str) -> None:
    text = (DEPLOY / SERVICES[image][0]).read_text(encoding="utf-8")
    assert re.search(r"PORT=8080", text)
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert re.search(r"^FROM python:3\.11", text, re.M)


@pytest.mark.parametrize(
    ("dockerfile", "needed"),
    [
        ("connector.Dockerfile", {"setup.py", "contract/", "connector/"}),
        ("webapp.Dockerfile", {"setup.py", "contract/", "webapp/"}),
        ("flex_template/Dockerfile", {"setup.py", "contract/", "pipeline/"}),
    ],
)
def test_build_context_is_limited_to_what_the_image_copies(
    dockerfile: str, needed: set[str]
) -> None:
    """BuildKit's <Dockerfile>.dockerignore keeps .venv and friends out of the context."""
    ignore = (DEPLOY / f"{dockerfile}.dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [r for r in ignore if r and not r.startswith("#")]
    assert rules[0] == "*"
    allowed = {r.removeprefix("!") for r in rules if r.startswith("!")}
    assert allowed == needed
    copied = set(re.findall(r"^COPY (\S+)", (DEPLOY / dockerfile).read_text(), re.M))
    assert copied == needed


def test_extras_used_by_images_exist_in_setup_py() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    setup_call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"
    )
    extras = next(k.value for k in setup_call.keywords if k.arg == "extras_require")
    assert isinstance(extras, ast.Dict), ast.dump(extras)
    names = {ast.literal_eval(k) for k in extras.keys if k is not None}
    assert {"connector", "webapp", "beam"} <= names
