"""``python -m pipeline --help`` lists every project option with its default."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import main as pipeline_main
from pipeline.options import ToteOptions

ROOT = Path(__file__).resolve().parents[2]


def _tote_actions() -> list[argparse.Action]:
    parser = argparse.ArgumentParser()
    ToteOptions._add_argparse_args(parser)
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


def test_help_lists_every_option_with_its_default_and_starts_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_run(argv: object) -> None:
        raise AssertionError("--help must not start the pipeline")

    monkeypatch.setattr(pipeline_main, "run", no_run)
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapping inside a default
    pipeline_main.main(["--help"])
    text = capsys.readouterr().out
    actions = _tote_actions()
    assert len(actions) >= 9
    for action in actions:
        flag = action.option_strings[0]
        assert flag in text
        if action.default is not None:
            assert f"{flag} " in text and f"(default: {action.default!r})" in text, flag
    assert "(default: --project)" in text  # the two project options say what None means
    assert "--runner" in text and "--temp_location" in text  # Beam's own pass through


def test_python_m_pipeline_help_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: python -m pipeline")
    assert "--semantic_dedup_ttl_s" in result.stdout
