"""The local BigQuery emulator: start/stop, offline credentials, Beam's streaming-insert path."""

from __future__ import annotations

import ast
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import apache_beam as beam
import google.auth
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from google.cloud import bigquery

from devstack.bigquery_emulator import (
    BigQueryEmulator,
    bqemulator_python,
    local_bigquery_env,
    offline_credentials_info,
)
from devstack.processes import ServiceError, free_port, port_is_free

pytestmark = pytest.mark.bigquery

SCHEMA: dict[str, list[dict[str, Any]]] = {
    "fields": [
        {"name": "frame_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "received_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
        {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE"},
        {
            "name": "legs",
            "type": "RECORD",
            "mode": "REPEATED",
            "fields": [
                {"name": "leg_id", "type": "STRING", "mode": "NULLABLE"},
                {"name": "selection_ids", "type": "STRING", "mode": "REPEATED"},
            ],
        },
    ]
}


def make_table(client: bigquery.Client, project: str) -> str:
    dataset = f"emu_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    table = bigquery.Table(
        f"{project}.{dataset}.rows",
        schema=[bigquery.SchemaField.from_api_repr(f) for f in SCHEMA["fields"]],
    )
    client.create_table(table)
    return f"{project}.{dataset}.rows"


def test_missing_virtualenv_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BQEMULATOR_VENV", str(tmp_path / "nowhere"))
    with pytest.raises(ServiceError, match="make install"):
        bqemulator_python()
    with pytest.raises(ServiceError, match="make install"):
        BigQueryEmulator.start(tmp_path / "log", tmp_path / "data")


def test_offline_credentials_resolve_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(offline_credentials_info("p1")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p1")
    credentials, project = google.auth.default(scopes=["https://www.googleapis.com/auth/bigquery"])
    assert project == "p1"
    assert credentials.valid  # no refresh (which would need the internet) is ever attempted
    assert credentials.token == "local-bigquery-emulator-token"


def test_env_for_children_points_at_the_emulator(
    bigquery_emulator: BigQueryEmulator, tmp_path: Path
) -> None:
    env = local_bigquery_env(bigquery_emulator, "p2", tmp_path / "state")
    assert env["BIGQUERY_EMULATOR_HOST"] == f"http://127.0.0.1:{bigquery_emulator.port}"
    assert json.loads(Path(env["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())["type"] == (
        "authorized_user"
    )
    assert env["GOOGLE_CLOUD_PROJECT"] == "p2"
    assert env["GCE_METADATA_HOST"].startswith("127.")


def test_adc_client_from_the_environment_reads_and_writes(
    bigquery_emulator: BigQueryEmulator, project: str
) -> None:
    # The session fixture exported local_bigquery_env: a plain Client() must reach the emulator.
    client = bigquery.Client()
    table = make_table(bigquery_emulator.client(project), project)
    row = {
        "frame_id": "f1",
        "received_at": "2026-11-26T10:15:00.123Z",
        "amount": "6645.4",
        "legs": [{"leg_id": "l1", "selection_ids": ["s1", "s2"]}],
    }
    assert client.insert_rows_json(table, [row]) == []
    got = [
        dict(r)
        for r in client.query(
            f"SELECT frame_id, amount, leg.leg_id AS leg_id, "
            f"ARRAY_LENGTH(leg.selection_ids) AS n FROM `{table}`, UNNEST(legs) AS leg"
        ).result()
    ]
    assert got == [{"frame_id": "f1", "amount": Decimal("6645.4"), "leg_id": "l1", "n": 2}]


def test_bad_rows_get_bigquery_style_errors_and_nothing_is_half_inserted(
    bigquery_emulator: BigQueryEmulator, project: str
) -> None:
    client = bigquery_emulator.client(project)
    table = make_table(client, project)
    good = {"frame_id": "ok", "received_at": "2026-11-26T10:15:00Z"}
    bad_time = {"frame_id": "bad", "received_at": "not a time"}
    errors = client.insert_rows_json(table, [good, bad_time], retry=None)  # type: ignore[arg-type]  # None: no retries (stubs say Retry)
    assert [(e["index"], e["errors"][0]["reason"]) for e in errors] == [
        (0, "stopped"),
        (1, "invalid"),
    ]
    assert errors[1]["errors"][0]["location"] == "received_at"
    assert client.get_table(table).num_rows == 0
    assert list(client.query(f"SELECT frame_id FROM `{table}`").result()) == []

    errors = client.insert_rows_json(table, [good, bad_time], skip_invalid_rows=True, retry=None)  # type: ignore[arg-type]  # None: no retries (stubs say Retry)
    assert [(e["index"], e["errors"][0]["reason"]) for e in errors] == [(1, "invalid")]
    assert [r.frame_id for r in client.query(f"SELECT frame_id FROM `{table}`").result()] == ["ok"]


def test_beam_streaming_inserts_land_and_bad_rows_come_back_as_failed_rows(
    bigquery_emulator: BigQueryEmulator, project: str
) -> None:
    table = make_table(bigquery_emulator.client(project), project)
    good = [
        {"frame_id": f"f{i}", "received_at": "2026-11-26T10:15:00.123Z", "amount": f"{i}.5"}
        for i in range(20)
    ]
    bad = [
        {"frame_id": "bad-ts", "received_at": "yesterday"},
        {"received_at": "2026-11-26T10:15:00Z"},  # REQUIRED frame_id missing
        {"frame_id": "extra", "received_at": "2026-11-26T10:15:00Z", "surprise": 1},
    ]
    pipeline = beam.Pipeline(
        options=PipelineOptions([], runner="BundleBasedDirectRunner", project=project)
    )
    result = (
        pipeline
        | beam.Create(good + bad)
        | beam.io.WriteToBigQuery(
            table=table.replace(".", ":", 1),
            schema=SCHEMA,
            method=beam.io.WriteToBigQuery.Method.STREAMING_INSERTS,
            create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
            write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
            insert_retry_strategy="RETRY_ON_TRANSIENT_ERROR",
        )
    )
    failed = result.failed_rows_with_errors | beam.Map(
        lambda f: (f[1].get("frame_id"), f[2][0]["reason"], f[2][0]["location"])
    )
    assert_that(
        failed,
        equal_to(
            [
                ("bad-ts", "invalid", "received_at"),
                (None, "invalid", "frame_id"),
                ("extra", "invalid", "surprise"),
            ]
        ),
    )
    pipeline.run().wait_until_finish()

    client = bigquery_emulator.client(project)
    rows = client.query(f"SELECT frame_id, amount FROM `{table}` ORDER BY frame_id").result()
    assert sorted((r.frame_id, r.amount) for r in rows) == sorted(
        (g["frame_id"], Decimal(g["amount"])) for g in good
    )


def test_start_on_a_given_port_then_stop_frees_it(tmp_path: Path) -> None:
    port = free_port()
    emulator = BigQueryEmulator.start(tmp_path / "log", tmp_path / "data", port=port)
    try:
        assert emulator.host == f"127.0.0.1:{port}"
        assert (tmp_path / "data" / "bqemulator.duckdb").exists()  # --persistent
        with pytest.raises(ServiceError, match="in use"):
            BigQueryEmulator.start(tmp_path / "log2", tmp_path / "data2", port=port)
    finally:
        emulator.stop()
    assert not emulator.process.alive()
    assert port_is_free(port)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_launcher_imports_only_stdlib_bqemulator_and_its_sibling() -> None:
    # It runs in .bqvenv: anything from the project's virtualenv would break it there.
    devstack = Path(__file__).resolve().parents[2] / "devstack"
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    launcher = imported_modules(devstack / "bqemulator_launcher.py")
    assert launcher - allowed == {"bqemulator", "fastapi", "insert_validation"}
    assert imported_modules(devstack / "insert_validation.py") <= allowed
