"""Alerts cover the four failure modes the issue names, on the catalog's resources."""

from __future__ import annotations

import json
import re
from typing import Any

from contract import catalog
from tests.deploy.makefile import make_dry_run
from tests.terraform.hcl import block, load


def _condition(policy: str) -> dict[str, Any]:
    return block(load().resource("google_monitoring_alert_policy", policy), "conditions")


def _threshold_filter(policy: str) -> str:
    return _resolve(block(_condition(policy), "condition_threshold")["filter"])


def _resolve(text: str) -> str:
    """Expand ${local.x} (one level) and resource names, as Terraform would."""
    config = load()
    text = re.sub(
        r"\$\{local\.([a-z_]+)\}",
        lambda m: config.locals[m.group(1)] if m.group(1) != "catalog" else m.group(0),
        text,
    )
    return config.evaluate(text) if "${" in text and "uptime_check_id" not in text else text


def test_the_expected_policies_exist() -> None:
    assert set(load().of_type("google_monitoring_alert_policy")) == {
        "connector_down",
        "connector_silent",
        "ingress_backlog",
        "dead_letters",
        "dataflow_lag",
        # terraform/monitoring_webapp.tf (tests/terraform/test_monitoring_webapp.py)
        "webapp_down",
        "webapp_5xx",
        "webapp_429",
        "webapp_dropped_clients",
        "webapp_subscription_backlog",
    }


def test_every_policy_notifies_and_links_the_runbook() -> None:
    for name, policy in load().of_type("google_monitoring_alert_policy").items():
        assert policy["notification_channels"] == "${local.notification_channels}", name
        doc = block(policy, "documentation")["content"]
        assert "${local.runbook}#" in doc, name


def test_connector_down_uses_an_authenticated_uptime_check_on_health() -> None:
    check = load().resource("google_monitoring_uptime_check_config", "connector")
    http = block(check, "http_check")
    assert http["path"] == "/health"
    assert block(http, "service_agent_authentication")["type"] == "OIDC_TOKEN"
    flt = block(_condition("connector_down"), "condition_threshold")["filter"]
    assert "uptime_check/check_passed" in flt
    assert "google_monitoring_uptime_check_config.connector.uptime_check_id" in flt


def test_connector_silent_watches_ingress_only_in_racing_hours() -> None:
    config = load()
    query = _resolve(
        block(_condition("connector_silent"), "condition_prometheus_query_language")["query"]
    )
    assert f'topic_id="{catalog.INGRESS_TOPIC}"' in query
    hours = config.variable_default("racing_hours_utc")
    assert f"hour() >= {hours['start']}" in query and f"hour() < {hours['end']}" in query
    assert 6 <= hours["start"] < hours["end"] <= 22, "inside the connector's 06:00-23:00 window"


def test_backlog_alert_is_on_the_ingress_subscription() -> None:
    flt = _threshold_filter("ingress_backlog")
    assert "subscription/oldest_unacked_message_age" in flt
    assert f'subscription_id = "{catalog.INGRESS_SUBSCRIPTION}"' in flt


def test_dead_letter_alert_is_on_the_dead_letter_topic() -> None:
    flt = _threshold_filter("dead_letters")
    assert "topic/send_message_operation_count" in flt
    assert f'topic_id = "{catalog.DEAD_LETTER_TOPIC}"' in flt


def test_dataflow_lag_alert_names_the_job_the_makefile_launches() -> None:
    flt = _threshold_filter("dataflow_lag")
    assert "dataflow.googleapis.com/job/system_lag" in flt
    job = load().variable_default("dataflow_job_name")
    assert f'job_name = "{job}"' in flt
    launched = make_dry_run("dataflow-run")
    assert f"flex-template run {job} " in launched


def test_dashboard_charts_the_pipeline_end_to_end() -> None:
    charts = load().locals["dashboard_charts"]
    found = [re.search(r'metric.type = \\?"([^"\\]+)', c["filter"]) for c in charts]
    assert all(found), [c["filter"] for c, m in zip(charts, found, strict=True) if not m]
    metrics = {m.group(1) for m in found if m}
    assert {
        "pubsub.googleapis.com/topic/send_message_operation_count",
        "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
        "dataflow.googleapis.com/job/system_lag",
        "run.googleapis.com/container/instance_count",
    } <= metrics
    assert json.dumps(charts)
