"""Topics, subscriptions, dataset, tables and schemas: exactly the message catalog's.

Two links are checked.  The generated files in ``terraform/generated`` must equal what the
generator renders from ``contract.catalog`` now (so a column renamed in either place fails), and
the HCL must take its names and schemas from those files (so a hand-written name cannot slip in).
Names are then evaluated the way Terraform would and compared with the catalog directly.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest

from contract import catalog
from deploy import export_catalog
from tests.terraform.hcl import ROOT, TERRAFORM, block, load

GENERATED = TERRAFORM / "generated"


def test_generated_files_match_the_catalog() -> None:
    rendered = export_catalog.render()
    on_disk = {
        str(p.relative_to(GENERATED)): p.read_text(encoding="utf-8")
        for p in GENERATED.rglob("*.json")
    }
    assert set(on_disk) == set(rendered), "run `make tf-catalog`"
    for rel, text in rendered.items():
        assert on_disk[rel] == text, f"terraform/generated/{rel} is stale: run `make tf-catalog`"


def test_render_follows_a_catalog_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drift check above can fail: renaming a column changes the rendered schema."""
    spec = catalog.TABLES["product_status_changed"]
    renamed = tuple(
        catalog.Column("state", c.bq_type, c.kind, c.sources, c.required, c.mode)
        if c.name == "status"
        else c
        for c in spec.columns
    )
    tables = dict(catalog.TABLES)
    tables[spec.name] = catalog.TableSpec(
        spec.name, renamed, spec.partition_field, spec.clustering, spec.description
    )
    monkeypatch.setattr(catalog, "TABLES", tables)
    text = export_catalog.render()["schemas/product_status_changed.json"]
    assert '"state"' in text
    assert text != (GENERATED / "schemas" / "product_status_changed.json").read_text()


def test_write_removes_schemas_of_dropped_tables(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "gone.json").write_text("[]")
    export_catalog.write(tmp_path)
    assert not (tmp_path / "schemas" / "gone.json").exists()
    assert {p.name for p in (tmp_path / "schemas").iterdir()} == {
        f"{t}.json" for t in catalog.TABLES
    }


def test_catalog_local_reads_the_generated_file() -> None:
    assert (
        load().locals["catalog"] == '${jsondecode(file("${path.module}/generated/catalog.json"))}'
    )


# --- Pub/Sub -------------------------------------------------------------------------------------


def test_typed_topics_are_the_catalogs_eight() -> None:
    config = load()
    typed = config.resource("google_pubsub_topic", "typed")
    assert typed["for_each"] == "${local.catalog.typed_topics}"
    names = {
        config.evaluate(typed["name"], each_key=k) for k in config.catalog_json["typed_topics"]
    }
    assert names == {t.name for t in catalog.TOPICS}
    assert len(names) == 8


def test_every_topic_is_in_the_catalog() -> None:
    config = load()
    singles = {
        config.evaluate(body["name"])
        for name, body in config.of_type("google_pubsub_topic").items()
        if "for_each" not in body
    }
    assert singles == {catalog.INGRESS_TOPIC, catalog.REFERENCE_TOPIC, catalog.DEAD_LETTER_TOPIC}


def test_reference_topic_keeps_a_racing_day_for_late_subscribers() -> None:
    config = load()
    topic = config.resource("google_pubsub_topic", "reference")
    assert config.evaluate(topic["name"]) == catalog.REFERENCE_TOPIC
    assert topic["message_retention_duration"] == "${var.reference_topic_retention}"
    assert config.variable_default("reference_topic_retention") == "86400s"


def test_ingress_subscription() -> None:
    config = load()
    sub = config.resource("google_pubsub_subscription", "ingress_pipeline")
    assert config.evaluate(sub["name"]) == catalog.INGRESS_SUBSCRIPTION
    assert sub["topic"] == "${google_pubsub_topic.ingress.id}"
    assert block(sub, "expiration_policy")["ttl"] == "", "must never expire"


def test_ingress_dead_letter_policy_and_service_agent_iam() -> None:
    config = load()
    sub = config.resource("google_pubsub_subscription", "ingress_pipeline")
    policy = block(sub, "dynamic")["dead_letter_policy"]
    content = block(policy, "content")
    assert content["dead_letter_topic"] == "${google_pubsub_topic.dead_letters.id}"
    assert 5 <= config.variable_default("ingress_max_delivery_attempts") <= 100

    agent = config.locals["pubsub_service_agent"]
    assert agent.endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")
    publisher = config.resource(
        "google_pubsub_topic_iam_member", "pubsub_agent_dead_letter_publisher"
    )
    assert (publisher["topic"], publisher["role"]) == (
        "${google_pubsub_topic.dead_letters.id}",
        "roles/pubsub.publisher",
    )
    subscriber = config.resource(
        "google_pubsub_subscription_iam_member", "pubsub_agent_ingress_subscriber"
    )
    assert (subscriber["subscription"], subscriber["role"]) == (
        "${google_pubsub_subscription.ingress_pipeline.id}",
        "roles/pubsub.subscriber",
    )
    assert publisher["member"] == subscriber["member"] == "${local.pubsub_service_agent}"


def test_dead_letter_topic_has_a_subscription() -> None:
    """Pub/Sub drops messages published to a topic without subscriptions."""
    config = load()
    topics = {body["topic"] for body in config.of_type("google_pubsub_subscription").values()}
    assert "${google_pubsub_topic.dead_letters.id}" in topics


# --- BigQuery ------------------------------------------------------------------------------------


def test_dataset_is_the_catalogs() -> None:
    config = load()
    dataset = config.resource("google_bigquery_dataset", "tote")
    assert config.evaluate(dataset["dataset_id"]) == catalog.DATASET


def test_tables_match_the_catalog_exactly() -> None:
    """Evaluate the for_each the way Terraform would and compare every table with the catalog."""
    config = load()
    table = config.resource("google_bigquery_table", "catalog")
    assert table["for_each"] == "${local.catalog.tables}"
    assert table["table_id"] == "${each.key}"
    assert table["schema"] == '${file("${path.module}/generated/${each.value.schema_file}")}'
    partitioning = block(table, "time_partitioning")
    assert partitioning["type"] == "DAY"
    assert partitioning["field"] == "${each.value.partition_field}"
    assert table["clustering"] == "${each.value.clustering}"

    tables = config.catalog_json["tables"]
    assert set(tables) == set(catalog.TABLES)
    for name, spec in catalog.TABLES.items():
        entry = tables[name]
        schema = json.loads((GENERATED / entry["schema_file"]).read_text(encoding="utf-8"))
        assert schema == spec.schema, name
        assert entry["partition_field"] == spec.partition_field
        assert entry["clustering"] == list(spec.clustering)
        assert entry["clustering"], f"{name} is not clustered"
        partition_column = next(c for c in schema if c["name"] == spec.partition_field)
        assert partition_column["type"] == "TIMESTAMP"


def test_money_is_numeric_never_float() -> None:
    def walk(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for f in fields:
            out.append(f)
            out.extend(walk(f.get("fields", [])))
        return out

    money = []
    for path in (GENERATED / "schemas").glob("*.json"):
        for f in walk(json.loads(path.read_text(encoding="utf-8"))):
            assert f["type"] not in {"FLOAT", "FLOAT64"}, f"{path.name}: {f['name']} is a float"
            if f["name"] in {"amount", "returns_amount"}:
                money.append(f["type"])
    assert money and set(money) == {"NUMERIC"}


# --- views ---------------------------------------------------------------------------------------

VIEWS_DIR = ROOT / "pipeline" / "sql" / "views"


DERIVED_DIR = VIEWS_DIR / "derived"
BASE_VIEWS = frozenset(p.stem for p in VIEWS_DIR.glob("*.sql"))


def test_one_view_resource_per_sql_file() -> None:
    config = load()
    assert config.locals["views_dir"] == "${path.module}/../pipeline/sql/views"
    assert (TERRAFORM / "../pipeline/sql/views").resolve() == VIEWS_DIR
    for name, files, pattern in [
        ("view", "view_files", 'fileset(local.views_dir, "*.sql")'),
        ("derived_view", "derived_view_files", 'fileset("${local.views_dir}/derived", "*.sql")'),
    ]:
        view = config.resource("google_bigquery_table", name)
        assert view["for_each"] == f"${{local.{files}}}"
        assert view["table_id"] == "${each.key}"
        assert pattern in config.locals[files]
        query = block(view, "view")["query"]
        assert "templatefile(each.value" in query
        assert "project = var.project_id" in query and "dataset =" in query


def test_derived_views_are_created_after_the_views_they_read() -> None:
    """Terraform creates a resource's instances in parallel: derived views wait for the others."""
    config = load()
    depends = config.resource("google_bigquery_table", "derived_view")["depends_on"]
    assert "${google_bigquery_table.view}" in depends
    assert "${google_bigquery_table.catalog}" in depends
    assert BASE_VIEWS.isdisjoint(p.stem for p in DERIVED_DIR.glob("*.sql"))
    outputs = config.outputs["views"]["value"]
    assert (
        "google_bigquery_table.view" in outputs and "google_bigquery_table.derived_view" in outputs
    )


def test_views_moved_to_derived_are_moved_in_state_not_recreated() -> None:
    """Each ``moved`` block takes a view to ``derived_view`` under its own name, and names a file
    that is in ``derived/`` (a stale block would make ``terraform plan`` fail)."""
    moved = [m for f in load().files.values() for m in f.get("moved", [])]
    assert moved
    derived = {p.stem for p in DERIVED_DIR.glob("*.sql")}
    pattern = re.compile(r'\$\{google_bigquery_table\.(view|derived_view)\["([a-z_]+)"\]\}')
    for m in moved:
        source, target = pattern.fullmatch(m["from"]), pattern.fullmatch(m["to"])
        assert source and target, m
        assert (source[1], target[1]) == ("view", "derived_view"), m
        assert source[2] == target[2] and target[2] in derived, m


def view_file_problems(path: Path, readable: frozenset[str] = frozenset()) -> list[str]:
    """Why Terraform could not create a view from ``path`` (empty when it can).

    A view may read catalog tables and the views named in ``readable`` (for ``derived/``: the
    views Terraform creates first).
    """
    problems = []
    text = path.read_text(encoding="utf-8")
    try:
        rendered = string.Template(text).substitute(project="p", dataset="d")
    except (KeyError, ValueError) as exc:
        return [f"placeholder other than ${{project}}/${{dataset}}: {exc}"]
    if "${" in rendered or "%{" in text:
        problems.append("template syntax templatefile() would reject")
    if path.stem in catalog.TABLES:
        problems.append(f"view {path.stem} clashes with a table")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,1023}", path.stem):
        problems.append(f"bad view id {path.stem}")
    if not rendered.strip():
        problems.append("empty")
    # Terraform creates the views of one resource in parallel, after the tables (and derived
    # views after the others): a view may read tables only, a derived view also the others.
    for name in sorted(set(re.findall(r"\$\{dataset\}`?\.`?([A-Za-z_][A-Za-z0-9_]*)", text))):
        if name not in catalog.TABLES and name not in readable:
            problems.append(f"reads {name}, which is not a catalog table or a view made first")
    return problems


def test_view_sql_files_render_with_project_and_dataset_only() -> None:
    """templatefile fails at apply time on any other ${...}: catch it here."""
    files = sorted(VIEWS_DIR.glob("*.sql"))
    assert files, f"no analyst views in {VIEWS_DIR}"
    assert {p.name: view_file_problems(p) for p in files} == {p.name: [] for p in files}
    derived = sorted(DERIVED_DIR.glob("*.sql"))
    assert derived, f"no derived views in {DERIVED_DIR}"
    found = {p.name: view_file_problems(p, BASE_VIEWS) for p in derived}
    assert found == {p.name: [] for p in derived}


@pytest.mark.parametrize(
    ("name", "sql", "ok"),
    [
        ("latest_pool_totals", "SELECT * FROM `${project}.${dataset}.pool_total_changed`", True),
        ("bad_placeholder", "SELECT * FROM `${project}.${schema}.x`", False),
        ("raw_frames", "SELECT 1", False),
        ("has-dash", "SELECT 1", False),
        ("directive", "SELECT '%{ if x }'", False),
        ("view_on_view", "SELECT * FROM `${project}.${dataset}.pool_totals_latest`", False),
        ("on_missing", "SELECT * FROM `${project}.${dataset}.pool_totals`", False),
    ],
)
def test_view_file_checker(tmp_path: Path, name: str, sql: str, ok: bool) -> None:
    path = tmp_path / f"{name}.sql"
    path.write_text(sql, encoding="utf-8")
    assert (view_file_problems(path) == []) is ok


def test_view_file_checker_lets_derived_views_read_the_views_made_first(tmp_path: Path) -> None:
    path = tmp_path / "named.sql"
    path.write_text("SELECT * FROM `${project}.${dataset}.latest_events`", encoding="utf-8")
    assert view_file_problems(path) != []
    assert view_file_problems(path, BASE_VIEWS) == []
    path.write_text("SELECT * FROM `${project}.${dataset}.races`", encoding="utf-8")
    assert view_file_problems(path, BASE_VIEWS) != []  # a derived view on a derived view
