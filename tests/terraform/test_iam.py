"""Least privilege: every identity holds exactly the grants its component needs.

The table below is the reviewed contract (iam.tf explains each line).  The test rebuilds the
same table from the HCL: who (service account, service agent, allUsers, operators), which role,
on what (the resource the grant is attached to, ``[*]`` for a for_each over all of them).  Any
grant added, removed or widened without updating this table fails.
"""

from __future__ import annotations

import re
from typing import Any

from tests.terraform.hcl import REF, load

PROJECT = "project"
TYPED = "google_pubsub_topic.typed[*]"
INGRESS_SUB = "google_pubsub_subscription.ingress_pipeline"
CONNECTOR_SERVICE = "google_cloud_run_v2_service.connector"
WEBAPP_ROLE = "google_project_iam_custom_role.webapp_subscriptions"

EXPECTED: dict[str, set[tuple[str, str]]] = {
    "connector": {
        ("roles/pubsub.publisher", "google_pubsub_topic.ingress"),
        ("roles/secretmanager.secretAccessor", 'google_secret_manager_secret.this["api_key"]'),
        (
            "roles/secretmanager.secretAccessor",
            'google_secret_manager_secret.this["subscriptions_url"]',
        ),
        ("roles/secretmanager.secretAccessor", 'google_secret_manager_secret.this["graphql_url"]'),
    },
    "dataflow": {
        ("roles/dataflow.worker", PROJECT),
        ("roles/pubsub.subscriber", INGRESS_SUB),
        ("roles/pubsub.viewer", INGRESS_SUB),
        ("roles/pubsub.publisher", TYPED),
        ("roles/pubsub.publisher", "google_pubsub_topic.reference"),
        ("roles/pubsub.publisher", "google_pubsub_topic.dead_letters"),
        ("roles/bigquery.dataEditor", "google_bigquery_dataset.tote"),
        ("roles/storage.objectAdmin", "google_storage_bucket.dataflow"),
        ("roles/artifactregistry.reader", "google_artifact_registry_repository.images"),
    },
    "webapp": {
        (WEBAPP_ROLE, PROJECT),
        ("roles/pubsub.subscriber", TYPED),
        ("roles/pubsub.subscriber", "google_pubsub_topic.reference"),
        (
            "roles/secretmanager.secretAccessor",
            'google_secret_manager_secret.this["webapp_token_keys"]',
        ),
    },
    "scheduler": {("roles/run.invoker", CONNECTOR_SERVICE)},
    "pubsub-service-agent": {
        ("roles/pubsub.publisher", "google_pubsub_topic.dead_letters"),
        ("roles/pubsub.subscriber", INGRESS_SUB),
    },
    "monitoring-service-agent": {
        ("roles/run.invoker", CONNECTOR_SERVICE),
        ("roles/run.invoker", "google_cloud_run_v2_service.webapp"),
    },
    "operators": {("roles/run.invoker", CONNECTOR_SERVICE)},
    "allUsers": {("roles/run.invoker", "google_cloud_run_v2_service.webapp")},
}

WEBAPP_PERMISSIONS = {
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.delete",
    "pubsub.subscriptions.get",
}

_SCOPE_ATTRS = ("topic", "subscription", "secret_id", "dataset_id", "bucket", "repository", "name")


def _who(body: dict[str, Any]) -> str:
    member = body["member"]
    config = load()
    sa = re.fullmatch(r"\$\{google_service_account\.([a-z_]+)\.member\}", member)
    if sa:
        return sa.group(1)
    if member == "${local.pubsub_service_agent}":
        member = config.locals["pubsub_service_agent"]
    if "@gcp-sa-pubsub.iam.gserviceaccount.com" in member:
        return "pubsub-service-agent"
    if "@gcp-sa-monitoring-notification.iam.gserviceaccount.com" in member:
        return "monitoring-service-agent"
    if member == "allUsers":
        return "allUsers"
    if body.get("for_each") == "${toset(var.connector_operators)}":
        return "operators"
    raise AssertionError(f"unknown member {member!r}")


def _role(body: dict[str, Any]) -> str:
    role = body["role"]
    custom = re.fullmatch(r"\$\{(google_project_iam_custom_role\.[a-z_]+)\.id\}", role)
    return custom.group(1) if custom else role


def _scope(rtype: str, body: dict[str, Any]) -> str:
    if rtype == "google_project_iam_member":
        return PROJECT
    attr = next(a for a in _SCOPE_ATTRS if a in body)
    expr = body[attr]
    if expr.startswith("${each.value"):
        source = REF.search(body["for_each"])
        assert source, body
        return f"{source.group(1)}[*]"
    ref = REF.search(expr)
    assert ref, f"{rtype}: cannot tell what {expr!r} grants on"
    return ref.group(1) + (f'["{ref.group(3)}"]' if ref.group(3) else "")


def actual_grants() -> dict[str, set[tuple[str, str]]]:
    grants: dict[str, set[tuple[str, str]]] = {}
    for (rtype, _name), body in load().resources.items():
        if rtype.endswith("_iam_member"):
            grants.setdefault(_who(body), set()).add((_role(body), _scope(rtype, body)))
    return grants


def test_grants_are_exactly_the_reviewed_table() -> None:
    assert actual_grants() == EXPECTED


def test_every_service_account_is_in_the_table() -> None:
    accounts = set(load().of_type("google_service_account"))
    assert accounts == {"connector", "dataflow", "webapp", "scheduler"}
    assert accounts <= set(EXPECTED)


def test_no_authoritative_iam_and_no_basic_roles() -> None:
    """_binding/_policy resources would silently remove grants made outside this stack."""
    for rtype, name in load().resources:
        assert not rtype.endswith(("_iam_binding", "_iam_policy")), f"{rtype}.{name}"
    for grants in actual_grants().values():
        for role, _ in grants:
            assert role not in {"roles/owner", "roles/editor", "roles/viewer"}
            assert role not in {"roles/pubsub.editor", "roles/pubsub.admin"}


def test_webapp_custom_role_is_exactly_its_subscription_lifecycle() -> None:
    role = load().resource("google_project_iam_custom_role", "webapp_subscriptions")
    assert set(role["permissions"]) == WEBAPP_PERMISSIONS


def test_components_run_as_their_own_accounts() -> None:
    config = load()
    for service in ("connector", "webapp"):
        body = config.resource("google_cloud_run_v2_service", service)
        template = body["template"][0]
        assert template["service_account"] == f"${{google_service_account.{service}.email}}"
    job = config.resource("google_dataflow_flex_template_job", "pipeline")
    assert job["service_account_email"] == "${google_service_account.dataflow.email}"
    for job in config.of_type("google_cloud_scheduler_job").values():
        oidc = job["http_target"][0]["oidc_token"][0]
        assert oidc["service_account_email"] == "${google_service_account.scheduler.email}"


def test_checker_notices_an_extra_grant(monkeypatch) -> None:
    """The comparison is not vacuous: one more role for the connector breaks it."""
    config = load()
    extra = dict(config.resource("google_pubsub_topic_iam_member", "connector_publish_ingress"))
    extra["role"] = "roles/pubsub.subscriber"
    monkeypatch.setitem(config.resources, ("google_pubsub_topic_iam_member", "extra"), extra)
    assert actual_grants() != EXPECTED
