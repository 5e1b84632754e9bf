"""Cloud Run: the connector's socket survives between requests; SSE streams may last an hour."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.terraform.hcl import ROOT, block, load


def _service(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = load().resource("google_cloud_run_v2_service", name)
    template = block(body, "template")
    return template, block(template, "containers")


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def test_connector_keeps_one_instance_with_cpu_always_allocated() -> None:
    template, container = _service("connector")
    scaling = block(template, "scaling")
    assert scaling["min_instance_count"] == 1
    assert scaling["max_instance_count"] == 1, "two instances would hold two Tote sockets"
    assert block(container, "resources")["cpu_idle"] is False


def test_connector_is_private() -> None:
    grants = load().of_type("google_cloud_run_v2_service_iam_member").values()
    on_connector = [
        b for b in grants if b["name"] == "${google_cloud_run_v2_service.connector.name}"
    ]
    assert on_connector, "Scheduler must be able to invoke the connector"
    assert not [b for b in on_connector if b["member"] in {"allUsers", "allAuthenticatedUsers"}]


def test_webapp_is_set_up_for_sse() -> None:
    template, container = _service("webapp")
    assert template["timeout"] == "3600s"
    assert template["session_affinity"] is True
    concurrency = template["max_instance_request_concurrency"]
    assert concurrency == "${var.webapp_concurrency}"
    assert load().variable_default("webapp_concurrency") >= 250
    assert block(container, "resources")["cpu_idle"] is False


@pytest.mark.parametrize(
    ("service", "settings_file"),
    [("connector", "connector/settings.py"), ("webapp", "webapp/config.py")],
)
def test_env_names_are_ones_the_service_reads(service: str, settings_file: str) -> None:
    """A typo in an env name would silently leave the service on its default."""
    source = ROOT / settings_file
    read = set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", source.read_text(encoding="utf-8")))
    _template, container = _service(service)
    names = set(_env(container))
    assert names - {"PORT"} <= read, f"{service} does not read {sorted(names - read)}"


def test_health_probes_use_the_health_endpoint() -> None:
    for service in ("connector", "webapp"):
        _template, container = _service(service)
        probe = block(container, "startup_probe")
        assert block(probe, "http_get")["path"] == "/health"


def test_webapp_refuses_query_string_tokens() -> None:
    """Cloud Run's request log records the full URL: ``?access_token=`` must stay off."""
    _template, container = _service("webapp")
    assert _env(container)["WEBAPP_QUERY_TOKENS"]["value"] == "false"
