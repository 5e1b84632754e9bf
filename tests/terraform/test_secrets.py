"""No secret value in the configuration, the state-bound variables, the deploy files or docs.

Secret Manager holds the Tote API key, the two Tote URLs and the web app's token keyring; Terraform creates
only the containers and Cloud Run reads the values by reference.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform.hcl import ROOT, TERRAFORM, block, load

SECRET_ENV = {
    "connector": {"TOTE_API_KEY", "TOTE_SUBSCRIPTIONS_URL"},
    "webapp": {"WEBAPP_TOKEN_KEYS"},
}

# What a leaked value would look like: an Api-Key header with a value, a bearer token, a key
# file, a long random-looking string, or one of Tote's real endpoints.
LEAK_PATTERNS = {
    "api key header": re.compile(r"Api-Key\s+[A-Za-z0-9_\-]{8,}"),
    "bearer token": re.compile(r"Bearer\s+[A-Za-z0-9_\-.]{20,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key\"\s*:"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    "Tote endpoint": re.compile(r"(?:wss|https)://[a-z0-9.\-]*tote\.(?:co\.uk|digital)", re.I),
    "long hex secret": re.compile(r"(?<![0-9a-f])[0-9a-f]{40,}(?![0-9a-f])"),
}


def scanned_files() -> list[Path]:
    files = [*TERRAFORM.rglob("*.tf"), *TERRAFORM.rglob("*.json"), *TERRAFORM.rglob("*.tfvars")]
    files += [
        p for p in (ROOT / "deploy").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    files += [
        ROOT / "docs" / n
        for n in ("deployment.md", "operations.md")
        if (ROOT / "docs" / n).exists()
    ]
    return [f for f in files if ".terraform" not in f.parts]


def leaks(text: str) -> list[str]:
    return [name for name, pattern in LEAK_PATTERNS.items() if pattern.search(text)]


def test_no_secret_values_in_config_deploy_files_or_docs() -> None:
    found = {
        str(path.relative_to(ROOT)): leaks(path.read_text(encoding="utf-8", errors="replace"))
        for path in scanned_files()
    }
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize(
    "sample",
    [
        'env { value = "Api-Key 0123456789abcdef" }',
        "wss://hub.production.racing.tote.co.uk/partner/connections/graphql/",
        '{"type": "service_account", "private_key": "x"}',
        "token = " + "ab" * 20,
    ],
)
def test_the_scanner_catches_leaks(sample: str) -> None:
    assert leaks(sample)


def test_no_secret_version_resources() -> None:
    """A google_secret_manager_secret_version would put the value into the state file."""
    assert not load().of_type("google_secret_manager_secret_version")
    assert set(load().locals["secrets"].values()) == {
        "tote-api-key",
        "tote-subscriptions-url",
        "tote-graphql-url",
        "tote-webapp-token-keys",
    }


def test_no_variable_is_meant_to_carry_a_secret() -> None:
    for name, body in load().variables.items():
        assert not re.search(r"key|token|secret|password|credential", name), name
        assert not body.get("sensitive"), f"{name}: secrets do not go through variables"


@pytest.mark.parametrize(("service", "names"), sorted(SECRET_ENV.items()))
def test_secret_env_comes_from_secret_manager(service: str, names: set[str]) -> None:
    container = block(
        block(load().resource("google_cloud_run_v2_service", service), "template"), "containers"
    )
    env = {e["name"]: e for e in container["env"]}
    for name in names:
        assert "value" not in env[name], f"{name} must not be a plain value"
        ref = block(block(env[name], "value_source"), "secret_key_ref")
        assert ref["secret"].startswith("${google_secret_manager_secret.this[")
    for name, e in env.items():
        if "value" in e:
            assert not leaks(str(e["value"])), name
