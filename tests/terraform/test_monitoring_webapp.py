"""The web app's monitoring (terraform/monitoring_webapp.tf) and its Cloud Run settings."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from contract import catalog
from tests.terraform.hcl import ROOT, block, load
from webapp.config import Config
from webapp.events import new_epoch

WEBAPP_POLICIES = {
    "webapp_down",
    "webapp_5xx",
    "webapp_429",
    "webapp_dropped_clients",
    "webapp_subscription_backlog",
}
RUNBOOK = ROOT / "docs" / "operations.md"


def _policies() -> dict[str, dict[str, Any]]:
    return {
        name: body
        for name, body in load().of_type("google_monitoring_alert_policy").items()
        if name in WEBAPP_POLICIES
    }


def _conditions(policy: str) -> list[dict[str, Any]]:
    conditions = _policies()[policy]["conditions"]
    return conditions if isinstance(conditions, list) else [conditions]


def _filter(policy: str, index: int = 0) -> str:
    return block(_conditions(policy)[index], "condition_threshold")["filter"]


def _local(name: str) -> str:
    return load().locals[name]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_all_webapp_policies_exist_in_their_own_file() -> None:
    assert set(_policies()) == WEBAPP_POLICIES
    doc = load().files["monitoring_webapp.tf"]
    declared = {
        name
        for b in doc["resource"]
        for rtype, named in b.items()
        for name in named
        if rtype == "google_monitoring_alert_policy"
    }
    assert declared == WEBAPP_POLICIES


@pytest.mark.parametrize("policy", sorted(WEBAPP_POLICIES))
def test_each_alert_notifies_and_links_an_existing_runbook_section(policy: str) -> None:
    body = _policies()[policy]
    assert body["notification_channels"] == "${local.notification_channels}"
    content = block(body, "documentation")["content"]
    anchor = re.search(r"\$\{local\.runbook\}#([a-z0-9\-]+)", content)
    assert anchor, f"{policy}: no runbook link"
    assert anchor.group(1) in _anchors(RUNBOOK.read_text(encoding="utf-8")), anchor.group(1)


def test_uptime_check_calls_health_with_a_token() -> None:
    check = load().resource("google_monitoring_uptime_check_config", "webapp")
    http = block(check, "http_check")
    assert http["path"] == "/health" and http["use_ssl"] is True
    assert block(http, "service_agent_authentication")["type"] == "OIDC_TOKEN"
    labels = block(check, "monitored_resource")["labels"]
    assert "google_cloud_run_v2_service.webapp.uri" in labels["host"]
    assert "google_monitoring_uptime_check_config.webapp.uptime_check_id" in _filter("webapp_down")


def test_5xx_and_429_alerts_count_the_webapp_service_requests() -> None:
    run_filter = _local("webapp_run_filter")
    assert "google_cloud_run_v2_service.webapp.name" in run_filter
    for policy, label in [
        ("webapp_5xx", 'metric.label.response_code_class = \\"5xx\\"'),
        ("webapp_429", 'metric.label.response_code = \\"429\\"'),
    ]:
        flt = _filter(policy)
        assert "run.googleapis.com/request_count" in flt and "${local.webapp_run_filter}" in flt
        assert label in flt or label.replace("\\", "") in flt, flt


def test_dropped_clients_metric_counts_the_field_the_app_logs() -> None:
    metric = load().resource("google_logging_metric", "webapp_dropped_clients")
    match = re.search(r'jsonPayload\.event = \\?"([a-z\-]+)\\?"', metric["filter"])
    assert match, metric["filter"]
    runtime_source = (ROOT / "webapp" / "runtime.py").read_text(encoding="utf-8")
    assert f'"event": "{match.group(1)}"' in runtime_source
    assert block(metric, "metric_descriptor")["metric_kind"] == "DELTA"
    flt = _filter("webapp_dropped_clients")
    assert "logging.googleapis.com/user/${google_logging_metric.webapp_dropped_clients.name}" in flt


def test_backlog_alert_matches_instance_subscriptions_and_ignores_orphans() -> None:
    flt = _local("webapp_subscription_filter")
    pattern = re.search(r'full_match\(\\?"(.+?)\\?"\)', flt)
    assert pattern, flt
    regex = re.compile(pattern.group(1))
    instance = f"{new_epoch()}-{uuid.uuid4().hex[:6]}"
    for topic in catalog.TOPICS:  # the name webapp/subscriber.py gives each subscription
        assert regex.fullmatch(f"dev-{topic.name}.webapp-{instance}")
    assert not regex.fullmatch(catalog.INGRESS_SUBSCRIPTION)
    policy = _policies()["webapp_subscription_backlog"]
    assert policy["combiner"] == "AND_WITH_MATCHING_RESOURCE"
    assert "subscription/oldest_unacked_message_age" in _filter("webapp_subscription_backlog", 0)
    assert "subscription/ack_message_count" in _filter("webapp_subscription_backlog", 1)


def _webapp_container() -> dict[str, Any]:
    service = load().resource("google_cloud_run_v2_service", "webapp")
    return block(block(service, "template"), "containers")


def test_cloud_run_liveness_and_readiness_probes() -> None:
    container = _webapp_container()
    assert block(block(container, "liveness_probe"), "http_get")["path"] == "/healthz"
    assert block(block(container, "startup_probe"), "http_get")["path"] == "/health"


def test_cloud_run_trusts_one_proxy_hop_and_keeps_market_data_closed_by_default() -> None:
    env = {e["name"]: e for e in _webapp_container()["env"]}
    assert env["WEBAPP_TRUSTED_PROXY_HOPS"]["value"] == "${tostring(var.webapp_trusted_proxy_hops)}"
    assert load().variable_default("webapp_trusted_proxy_hops") == 1
    assert env["WEBAPP_MARKET_DATA_OPEN"]["value"] == "${tostring(var.webapp_market_data_open)}"
    assert load().variable_default("webapp_market_data_open") is False
    assert "WEBAPP_TOKEN_KEYS" in env and "SSE_TOKEN" not in env


def test_cloud_run_reorder_hold_defaults_to_the_web_apps_own_default() -> None:
    env = {e["name"]: e for e in _webapp_container()["env"]}
    assert env["SSE_REORDER_MS"]["value"] == "${tostring(var.webapp_reorder_ms)}"
    assert load().variable_default("webapp_reorder_ms") == Config().reorder_ms
    assert Config.from_env({"SSE_REORDER_MS": str(Config().reorder_ms)}) == Config.from_env({})
