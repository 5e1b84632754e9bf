"""Claims the documentation makes that code can check: the pipeline's step labels (the Dataflow
update contract), option defaults, the local runner's pull size, the Makefile targets the docs
tell people to run, and the environment defaults of the connector and the web app."""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from connector.settings import Settings
from pipeline import local_runner
from pipeline.main import build
from pipeline.options import ToteOptions
from tests import layout
from webapp.config import Config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))
NOT_A_LITERAL = {"", "\u2013", "\u2014", "-"}  # blank, en dash, em dash, hyphen


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _graph_labels(*flags: str) -> list[str]:
    """Full labels of every transform of the built graph, in graph order."""
    pipeline = beam.Pipeline(
        options=PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
    )
    build(pipeline, PipelineOptions(["--project=tote-doc", *flags]))
    labels: list[str] = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node: Any) -> None:
            labels.append(node.full_label)

        def visit_transform(self, node: Any) -> None:
            labels.append(node.full_label)

    pipeline.visit(Visitor())
    return labels


def _steps(labels: list[str]) -> list[str]:
    """The steps the README numbers: top-level transforms and those directly inside
    ProcessFrames (not ProcessFrames itself, not Beam's own sub-steps)."""
    return [
        label
        for label in labels
        if label
        and label != "ProcessFrames"
        and (
            label.count("/") == 0 or (label.startswith("ProcessFrames/") and label.count("/") == 1)
        )
    ]


PIPELINE_SECTION = _section(README, "## The pipeline")


LOCAL_ONLY_ABSENT = ["ProcessFrames/CollectRows", "ProcessFrames/CollectMessages"]
"""Steps of the ``per_key`` layout (Dataflow) that the ``sharded`` layout (local) does without;
the README numbers the Dataflow graph's steps and says so of these."""


def test_readme_numbered_steps_are_the_built_graphs_steps_in_order() -> None:
    items = re.findall(r"^\d+\. ((?:\*\*[A-Za-z/]+\*\*(?:, )?)+)", PIPELINE_SECTION, re.M)
    documented = [label for item in items for label in re.findall(r"\*\*([A-Za-z/]+)\*\*", item)]
    assert documented == _steps(_graph_labels("--dedup_layout=per_key"))
    local = [label for label in documented if label not in LOCAL_ONLY_ABSENT]
    assert local == _steps(_graph_labels("--dedup_layout=sharded"))
    (line,) = [x for x in PIPELINE_SECTION.splitlines() if f"**{LOCAL_ONLY_ABSENT[0]}**" in x]
    assert all(f"**{label}**" in line for label in LOCAL_ONLY_ABSENT)
    assert "(`per_key` layout only)" in line


def test_every_step_label_the_readme_names_exists() -> None:
    labels = set(_graph_labels("--dedup_layout=per_key"))
    named = set(re.findall(r"\*\*([A-Z][A-Za-z]+(?:/[A-Z][A-Za-z]+)?)\*\*", PIPELINE_SECTION))
    assert named, "no step labels found in the README's pipeline section"
    assert named <= labels, f"not in the pipeline graph: {sorted(named - labels)}"


def test_readme_option_defaults_match_tote_options() -> None:
    claims = re.findall(r"`(--[a-z_]+)` \(default (\d+)", README)
    assert claims, "the README states no option defaults any more: update this test"
    options = PipelineOptions([]).view_as(ToteOptions).get_all_options()
    for flag, default in claims:
        assert options[flag.removeprefix("--")] == int(default), flag


def test_readme_local_pull_size_is_the_local_runners() -> None:
    (claimed,) = re.findall(r"at most (\d+) messages per pull", README)
    assert int(claimed) == local_runner.PULL_MAX_MESSAGES


# --- Makefile targets named in the docs -----------------------------------------------------------


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", text, re.M))


def _make_commands(text: str) -> set[str]:
    """Targets of ``make X`` in inline code and in code blocks (variables like ``X=1``,
    ``<placeholders>`` and shell comments skipped; ``dataflow-*`` stays a pattern)."""
    snippets = re.findall(r"```[a-z]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
    targets = set()
    for snippet in snippets:
        snippet = re.sub(r"<[^>\n]*>", "", re.sub(r"#.*", "", snippet))
        for match in re.finditer(r"(?:^|[\s;&(|])make((?:[ \t]+[^\s;&|)\\]+)+)", snippet, re.M):
            try:
                words = shlex.split(match.group(1))
            except ValueError:  # an unbalanced quote in prose: plain words then
                words = match.group(1).split()
            for word in words:
                if "=" not in word and not word.startswith("-") and word != "...":
                    targets.add(word)
    return targets


def _missing(named: set[str], targets: set[str]) -> set[str]:
    return {n for n in named if not any(fnmatch.fnmatchcase(t, n) for t in targets)}


@pytest.mark.parametrize("doc", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_make_targets_named_in_docs_exist(doc: Path) -> None:
    named = _make_commands(doc.read_text(encoding="utf-8"))
    assert _missing(named, _make_targets()) == set(), f"{doc.name} names missing targets"


def test_make_command_finder_finds_targets() -> None:
    text = (
        "Run `make run ARGS=--help` or `make dataflow-*`, never `make <target>`\n"
        "`make bench ARGS='--only webdata'`, but not `make bench --only webdata`\n"
        "```sh\nmake dataflow-run PROJECT=p  # then make nothing-here\ngcloud x\n```\n"
    )
    assert _make_commands(text) == {"run", "dataflow-*", "bench", "webdata", "dataflow-run"}
    assert _missing({"run", "dataflow-*", "dataflow-rerun", "tf-*"}, {"run", "dataflow-run"}) == {
        "dataflow-rerun",
        "tf-*",
    }


# --- environment defaults in docs/connector.md and docs/webapp.md -------------------------------


def _env_table(doc: str) -> list[tuple[str, str]]:
    """(variable, documented default) pairs from the doc's configuration table."""
    pairs = []
    for line in (ROOT / "docs" / doc).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        if not names or cells[0].count("`") != 2 * len(names):
            continue
        defaults = re.split(r"\s*/\s*|,\s+", cells[1])
        if len(defaults) != len(names):
            defaults = [cells[1]] * len(names)
        pairs += list(zip(names, defaults, strict=True))
    return pairs


def _literal(default: str) -> str | None:
    """The documented default as the env value it stands for, or None for prose."""
    value = re.sub(r"\s*\(.*\)$", "", default).strip().strip("`")
    if value == "''":
        return ""
    if value in NOT_A_LITERAL or not re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
        return None
    return value


def _different(value: str) -> str:
    """Another valid value of the same kind, to prove the variable is read at all."""
    if value in ("true", "false"):
        return "false" if value == "true" else "true"
    if re.fullmatch(r"\d+", value):
        return str(int(value) + 1)
    if re.fullmatch(r"\d*\.\d+", value):
        return str(float(value) * 2)
    return "DEBUG" if value.isupper() else f"other-{value}"


SERVICES: dict[str, tuple[Callable[[Mapping[str, str]], Any], tuple[str, ...]]] = {
    # doc: (settings reader, the modules gunicorn loads that read the environment themselves)
    "connector.md": (
        Settings.from_env,
        ("connector/gunicorn_conf.py", "connector/gunicorn_worker.py"),
    ),
    "webapp.md": (Config.from_env, ("webapp/gunicorn_conf.py",)),
}


class RecordingEnv(dict[str, str]):
    """An environment that remembers every variable looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def _read_by(from_env: Callable[[Mapping[str, str]], Any]) -> set[str]:
    env = RecordingEnv()
    from_env(env)
    return env.read


CASES = [
    pytest.param(doc, name, literal, id=f"{doc}:{name}")
    for doc in SERVICES
    for name, default in _env_table(doc)
    if (literal := _literal(default)) is not None
]


def test_env_tables_were_found() -> None:
    for doc in SERVICES:
        assert len([c for c in CASES if c.values[0] == doc]) >= 8, doc


@pytest.mark.parametrize(("doc", "name", "default"), CASES)
def test_documented_env_default_is_the_codes(doc: str, name: str, default: str) -> None:
    from_env, gunicorn_files = SERVICES[doc]
    conf = "\n".join((ROOT / f).read_text(encoding="utf-8") for f in gunicorn_files)
    in_conf = re.search(rf"get\([\"']{name}[\"'],\s*[\"']([^\"']*)[\"']\)", conf)
    if in_conf is not None:  # read by gunicorn's config or worker (bind, log level, timeouts)
        assert in_conf.group(1).lower() == default.lower()
    if name not in _read_by(from_env):
        assert in_conf is not None, f"{name} is read by neither the settings nor {gunicorn_files}"
        return
    baseline = from_env({})
    assert from_env({name: default}) == baseline, f"{name}={default} is not the default"
    assert from_env({name: _different(default)}) != baseline, f"{name} is not read"


def test_readme_complexity_limit_is_ruffs() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (claimed,) = re.findall(r"complexity `C90` ≤ (\d+)", README)
    assert int(claimed) == config["tool"]["ruff"]["lint"]["mccabe"]["max-complexity"]
    assert {"BLE", "C90", "S110", "S112"} <= set(config["tool"]["ruff"]["lint"]["select"])


def test_readme_type_gate_is_mypys() -> None:
    """README: mypy covers every project package and ``tests/``, with the settings it names,
    and no override quietly takes a package (or the tests) out of the gate."""
    import tomllib

    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert "tests" in layout.PACKAGES and set(mypy["files"]) == layout.PACKAGES
    assert "`mypy` over every project package and `tests/`" in README
    for setting in ("check_untyped_defs", "warn_unused_ignores", "disallow_any_generics"):
        assert f"`{setting}`" in README and mypy[setting] is True, setting
    assert mypy["disallow_untyped_defs"] is True  # "every function annotated"
    for override in mypy["overrides"]:
        assert "ignore_errors" not in override and "follow_imports" not in override, override
        relaxed = {k for k, v in override.items() if v is False}
        if override["module"] == ["tests", "tests.*"]:  # test functions may stay unannotated
            assert relaxed == {"disallow_untyped_defs", "disallow_incomplete_defs"}
        else:
            assert relaxed == set(), override
