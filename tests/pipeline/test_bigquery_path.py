"""The pipeline's BigQuery path end to end: Pub/Sub emulator in, BigQuery emulator out.

Rows are read back with SQL: every unique frame once in ``raw_frames``, every typed message in
its typed table with exact NUMERIC money, bad frames in ``dead_letters`` with the reason.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest
from google.cloud import pubsub_v1

from contract import catalog
from devstack.pipeline_process import start_pipeline, wait_until_flowing
from devstack.provision import provision_pubsub
from testsupport import examples

pytestmark = [pytest.mark.emulator, pytest.mark.bigquery, pytest.mark.slow]

DATASET = "it_pipeline"


def _query(client, sql):
    return [dict(row.items()) for row in client.query(sql).result()]


def _wait_rows(client, sql, expected, timeout=90.0):
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        rows = _query(client, sql)
        if len(rows) >= expected:
            return rows
        time.sleep(0.5)
    return rows


def _barrier(client, project, proc, ds):
    """A probe published now has reached its topic and ``raw_frames``: the frames published
    before it (a duplicate among them) have been through the pipeline as well."""
    sql = f"SELECT frame_id FROM {ds}.raw_frames` WHERE connection_id = 'probe'"
    before = len(_query(client, sql))
    wait_until_flowing(project, proc)
    assert len(_wait_rows(client, sql, before + 1)) > before, "the probe never reached BigQuery"


def test_rows_reach_raw_typed_and_dead_letter_tables(
    pubsub_emulator, bigquery_emulator, project, logs_dir
):
    from pipeline import tables

    client = bigquery_emulator.client(project)
    tables.ensure_all(client, project, DATASET)
    provision_pubsub(project, "it-bq-ingress")
    proc = start_pipeline(
        project,
        logs_dir / "pipeline-bq.log",
        dict(os.environ),
        subscription="it-bq-ingress",
        dataset=DATASET,
    )
    try:
        wait_until_flowing(project, proc)
        typed = [m for m in catalog.CATALOG if m.table]
        frames = [
            examples.ingress_message(examples.frame(m.name), frame_id=f"bq-{i}")
            for i, m in enumerate(typed)
        ]
        frames.append(frames[0])  # transport duplicate
        frames.append(examples.ingress_message(examples.frame(typed[0].name), frame_id="bq-resent"))
        frames.append(examples.ingress_message(b"{nope", frame_id="bq-bad"))
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(project, catalog.INGRESS_TOPIC)
        for f in [publisher.publish(topic, d, **a) for d, a in frames]:  # type: ignore[arg-type]  # str attributes (mypy: retry=)
            f.result(30)

        ds = f"`{project}.{DATASET}"
        raw = _wait_rows(
            client,
            f"SELECT frame_id, message_type FROM {ds}.raw_frames` WHERE frame_id LIKE 'bq-%'",
            len(typed) + 2,
        )
        _barrier(client, project, proc, ds)  # a late transport duplicate would show now
        raw = _query(
            client,
            f"SELECT frame_id, message_type FROM {ds}.raw_frames` WHERE frame_id LIKE 'bq-%'",
        )
        assert sorted(r["frame_id"] for r in raw) == sorted(
            [f"bq-{i}" for i in range(len(typed))] + ["bq-resent", "bq-bad"]
        )

        for i, spec in enumerate(typed):
            rows = _query(
                client,
                f"SELECT frame_id, message_type FROM {ds}.{spec.table}` "
                f"WHERE frame_id LIKE 'bq-%' AND message_type = '{spec.name}'",
            )
            assert [r["frame_id"] for r in rows] == [f"bq-{i}"], spec.name

        pool = _query(
            client,
            f"SELECT g.amount AS amount, g.currency AS currency FROM {ds}.pool_total_changed`, "
            "UNNEST(gross_amounts) AS g WHERE frame_id = 'bq-0'",
        )
        assert [(Decimal(str(r["amount"])), r["currency"]) for r in pool] == [
            (Decimal("6645.4"), "GBP")
        ]

        dead = _wait_rows(
            client,
            f"SELECT frame_id, stage, reason, data_text FROM {ds}.dead_letters` "
            "WHERE frame_id = 'bq-bad'",
            1,
        )
        assert len(dead) == 1
        assert dead[0]["stage"] == "parse" and "not JSON" in dead[0]["reason"]
        assert dead[0]["data_text"] == "{nope"
    finally:
        proc.stop()
