"""``pipeline.main.run`` applies the local-runner patches on the direct runners only."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline import local_runner
from pipeline import main as pipeline_main


class FakePipeline:
    """Stands in for beam.Pipeline: only the runner decision is under test here."""

    def __init__(self, options: Any) -> None:
        self.options = options

    def run(self) -> object:
        return object()


@pytest.fixture
def installs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(local_runner, "install", lambda: calls.append("install"))
    monkeypatch.setattr(pipeline_main.beam, "Pipeline", FakePipeline)
    monkeypatch.setattr(pipeline_main, "build", lambda pipeline, options: None)
    return calls


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], ["install"]),  # the default runner is BundleBasedDirectRunner
        (["--runner=BundleBasedDirectRunner"], ["install"]),
        (["--runner=DirectRunner"], ["install"]),
        (
            [
                "--runner=DataflowRunner",
                "--region=europe-west2",
                "--temp_location=gs://b/tmp",
            ],
            [],
        ),
    ],
    ids=["default", "bundle-based", "direct", "dataflow"],
)
def test_patches_only_on_direct_runners(
    installs: list[str], monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: list[Any]
) -> None:
    monkeypatch.delenv("TOTE_DEFAULT_RUNNER", raising=False)
    pipeline_main.run(["--project=tote-test", *flags])
    assert installs == expected
