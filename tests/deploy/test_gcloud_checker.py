"""The gcloud checker the Makefile and docs tests rely on must be able to fail."""

from __future__ import annotations

import pytest

from tests.deploy.gcloud import assert_flags_exist, command_tree


@pytest.fixture(autouse=True)
def _need_sdk() -> None:
    if command_tree() is None:
        pytest.skip("Google Cloud SDK not installed")


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
