"""The gcloud checker the Makefile and docs tests rely on must be able to fail."""

from __future__ import annotations

import pytest

from tests.deploy.gcloud import assert_flags_exist, require_command_tree


@pytest.fixture(autouse=True)
def _need_sdk() -> None:
    require_command_tree()


def test_without_the_sdk_the_check_does_not_pass_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.deploy.gcloud.command_tree", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="gcloud flags unchecked"):
        assert_flags_exist(["gcloud", "dataflow", "jobs", "list"])
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        assert_flags_exist(["gcloud", "dataflow", "jobs", "list"])


def test_accepts_real_commands_with_positionals_and_global_flags() -> None:
    assert_flags_exist(
        ["gcloud", "pubsub", "subscriptions", "seek", "sub", "--time=x", "--project=p"]
    )
    assert_flags_exist(["gcloud", "dataflow", "flex-template", "run", "job", "--update"])


@pytest.mark.parametrize(
    "argv",
    [
        ["gcloud", "pubsub", "subscriptions", "seek", "sub", "--tme=x"],
        ["gcloud", "dataflow", "flex-template", "launch", "job"],
        ["gcloud", "dataflow", "flex-template"],
    ],
)
def test_rejects_unknown_flags_and_commands(argv: list[str]) -> None:
    with pytest.raises(AssertionError):
        assert_flags_exist(argv)
