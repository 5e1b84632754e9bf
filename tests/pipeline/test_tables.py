"""Tables and views from the catalog: plain functions, then against the BigQuery emulator."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from google.cloud import bigquery

from contract import catalog
from devstack.bigquery_emulator import BigQueryEmulator
from pipeline import tables
from pipeline.tables import (
    diff_schema,
    merge_schema,
    render_sql,
    table_resource,
    view_references,
    view_sql,
)

POOL = catalog.TABLES["pool_total_changed"]


def test_render_sql_fills_both_placeholders_and_rejects_others() -> None:
    sql = "SELECT * FROM `${project}.${dataset}.t` WHERE x = '$$'"
    assert render_sql(sql, "p", "d") == "SELECT * FROM `p.d.t` WHERE x = '$'"
    with pytest.raises(KeyError):
        render_sql("SELECT ${other}", "p", "d")


def test_view_sql_names_views_after_their_files(tmp_path: Path) -> None:
    (tmp_path / "b_view.sql").write_text("SELECT 2 FROM `${project}.${dataset}.x`")
    (tmp_path / "a_view.sql").write_text("SELECT 1")
    (tmp_path / "notes.txt").write_text("ignored")
    assert view_sql("p", "d", tmp_path) == {"a_view": "SELECT 1", "b_view": "SELECT 2 FROM `p.d.x`"}


def test_view_sql_puts_derived_views_after_the_views_they_read(tmp_path: Path) -> None:
    (tmp_path / "derived").mkdir()
    (tmp_path / "derived" / "a_named.sql").write_text("SELECT * FROM `${project}.${dataset}.z`")
    (tmp_path / "z.sql").write_text("SELECT * FROM `${project}.${dataset}.t`")
    views = view_sql("p", "d", tmp_path)
    assert list(views) == ["z", "a_named"]  # creation order: not alphabetical across tiers
    assert view_references(views["a_named"], "p", "d") == {"z"}


def test_view_sql_refuses_a_name_defined_twice(tmp_path: Path) -> None:
    (tmp_path / "derived").mkdir()
    (tmp_path / "v.sql").write_text("SELECT 1")
    (tmp_path / "derived" / "v.sql").write_text("SELECT 2")
    with pytest.raises(ValueError, match="defined twice"):
        view_sql("p", "d", tmp_path)


def test_shipped_views_read_only_tables_and_views_created_before_them() -> None:
    made: set[str] = set(catalog.TABLES)
    for name, sql in view_sql("p", "d").items():
        assert view_references(sql, "p", "d") <= made, name
        made.add(name)
    assert {"latest_events", "races"} <= made


def test_every_shipped_view_renders() -> None:
    views = view_sql("proj", "dset")
    assert views, "pipeline/sql/views is empty"
    for name, sql in views.items():
        assert "${" not in sql, name
        assert "`proj.dset." in sql, name


def test_table_resource_has_partitioning_clustering_and_schema() -> None:
    resource = table_resource(POOL, "p", "d")
    assert resource["tableReference"] == {
        "projectId": "p",
        "datasetId": "d",
        "tableId": "pool_total_changed",
    }
    assert resource["timePartitioning"] == {"type": "DAY", "field": "received_at"}
    assert resource["clustering"] == {"fields": ["product_id"]}
    assert resource["schema"]["fields"] == POOL.schema
    assert resource["description"] == POOL.description


def test_identical_schemas_match() -> None:
    assert diff_schema(POOL.schema, POOL.schema).matches


def test_new_nullable_and_nested_columns_are_addable_and_merged_at_the_end() -> None:
    old = [f for f in POOL.schema if f["name"] != "is_finalized"]
    gross = next(f for f in old if f["name"] == "gross_amounts")
    old = [{**gross, "fields": [gross["fields"][0]]} if f is gross else f for f in old]
    diff = diff_schema(POOL.schema, old)
    assert diff.addable == ("is_finalized", "gross_amounts.currency")
    assert diff.incompatible == () and diff.unknown == ()
    merged = merge_schema(POOL.schema, old)
    assert [f["name"] for f in merged] == [f["name"] for f in old] + ["is_finalized"]
    assert diff_schema(POOL.schema, merged).matches


def test_type_mode_and_required_differences_are_incompatible() -> None:
    changed = [
        {**f, "type": "FLOAT"} if f["name"] == "product_id" else f
        for f in POOL.schema
        if f["name"] != "frame_id"
    ] + [{"name": "legacy", "type": "STRING", "mode": "NULLABLE"}]
    diff = diff_schema(POOL.schema, changed)
    assert diff.incompatible == (
        "frame_id: missing REQUIRED column",
        "product_id: catalog STRING NULLABLE, table FLOAT NULLABLE",
    )
    assert diff.unknown == ("legacy",)
    assert "frame_id" not in {f["name"] for f in merge_schema(POOL.schema, changed)}


def test_type_aliases_compare_equal() -> None:
    assert diff_schema(
        [{"name": "a", "type": "BOOL"}, {"name": "r", "type": "RECORD", "fields": []}],
        [{"name": "A", "type": "BOOLEAN"}, {"name": "r", "type": "STRUCT", "fields": []}],
    ).matches


# --- against the emulator ------------------------------------------------------------------------


def fresh_dataset() -> str:
    return f"tables_{uuid.uuid4().hex[:8]}"


@pytest.mark.bigquery
def test_ensure_all_creates_everything_then_is_idempotent(
    bigquery_emulator: BigQueryEmulator, project: str
) -> None:
    client = bigquery_emulator.client(project)
    dataset = fresh_dataset()
    first = tables.ensure_all(client, project, dataset)
    views = set(view_sql(project, dataset))
    assert {r.table: r.action for r in first} == {
        **{name: "created" for name in catalog.TABLES},
        **{name: "view-created" for name in views},
    }
    second = tables.ensure_all(client, project, dataset)
    assert {r.action for r in second} == {"unchanged", "view-unchanged"}

    for name, spec in catalog.TABLES.items():
        live = client.get_table(f"{project}.{dataset}.{name}")
        assert [f.to_api_repr() for f in live.schema] == [
            bigquery.SchemaField.from_api_repr(f).to_api_repr() for f in spec.schema
        ]
        assert live.time_partitioning.type_ == "DAY"
        assert live.time_partitioning.field == spec.partition_field
        assert live.clustering_fields == list(spec.clustering)
        assert live.description == spec.description
    for name in views:
        assert client.get_table(f"{project}.{dataset}.{name}").table_type == "VIEW"


@pytest.mark.bigquery
def test_missing_columns_are_added_and_incompatible_ones_reported(
    bigquery_emulator: BigQueryEmulator, project: str
) -> None:
    client = bigquery_emulator.client(project)
    dataset = fresh_dataset()
    tables.ensure_dataset(client, project, dataset)
    old = [f for f in POOL.schema if f["name"] != "is_finalized"]
    client.create_table(
        bigquery.Table(
            f"{project}.{dataset}.pool_total_changed",
            schema=[bigquery.SchemaField.from_api_repr(f) for f in old],
        )
    )
    status = catalog.TABLES["product_status_changed"]
    client.create_table(
        bigquery.Table(
            f"{project}.{dataset}.product_status_changed",
            schema=[
                bigquery.SchemaField.from_api_repr({**f, "type": "INTEGER"})
                if f["name"] == "status"
                else bigquery.SchemaField.from_api_repr(f)
                for f in status.schema
            ],
        )
    )
    specs = {
        name: catalog.TABLES[name] for name in ("pool_total_changed", "product_status_changed")
    }
    reports = {r.table: r for r in tables.ensure_tables(client, project, dataset, specs)}
    assert reports["pool_total_changed"].action == "columns-added"
    assert reports["pool_total_changed"].details == ["added: is_finalized"]
    live = client.get_table(f"{project}.{dataset}.pool_total_changed")
    assert "is_finalized" in [f.name for f in live.schema]
    assert reports["product_status_changed"].action == "differs"
    assert reports["product_status_changed"].details == [
        "status: catalog STRING NULLABLE, table INTEGER NULLABLE"
    ]


@pytest.mark.bigquery
def test_views_are_updated_when_their_sql_changes(
    bigquery_emulator: BigQueryEmulator, project: str, tmp_path: Path
) -> None:
    client = bigquery_emulator.client(project)
    dataset = fresh_dataset()
    tables.ensure_dataset(client, project, dataset)
    (tmp_path / "answer.sql").write_text("SELECT 1 AS answer")
    assert tables.ensure_views(client, project, dataset, tmp_path) == {"answer": "created"}
    (tmp_path / "answer.sql").write_text("SELECT 42 AS answer")
    assert tables.ensure_views(client, project, dataset, tmp_path) == {"answer": "updated"}
    rows = client.query(f"SELECT answer FROM `{project}.{dataset}.answer`").result()
    assert [r.answer for r in rows] == [42]


@pytest.mark.bigquery
def test_cli_uses_the_emulator_from_the_environment(
    bigquery_emulator: BigQueryEmulator,
    project: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_emulator.host)  # without http://
    dataset = fresh_dataset()
    assert tables.main(["--project", project, "--dataset", dataset]) == 0
    out = capsys.readouterr().out
    assert f"{project}.{dataset} on {bigquery_emulator.host}" in out
    assert "raw_frames" in out and "created" in out
    client = bigquery_emulator.client(project)
    assert {t.table_id for t in client.list_tables(f"{project}.{dataset}")} >= set(catalog.TABLES)


@pytest.mark.bigquery
def test_local_client_reaches_the_emulator(
    bigquery_emulator: BigQueryEmulator, project: str
) -> None:
    client = tables.local_client(bigquery_emulator, project)
    assert [r.answer for r in client.query("SELECT 7 AS answer").result()] == [7]
