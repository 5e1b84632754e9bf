"""The catalog is consistent with itself and with the brief's fixed names."""

from __future__ import annotations

import re

import pytest

from contract import catalog
from contract.catalog import CATALOG, TABLES, TOPICS, Column, Kind

BRIEF_TOPICS = {
    "tote-pool-total-changed",
    "tote-product-status-changed",
    "tote-event-status-changed",
    "tote-event-result-changed",
    "tote-pool-dividend-changed",
    "tote-selection-status-changed",
    "tote-competitor-status-changed",
    "tote-bet-lifecycle",
}


def test_the_eight_typed_topics_are_the_briefs():
    assert {t.name for t in TOPICS} == BRIEF_TOPICS
    assert len({t.stream for t in TOPICS}) == 8


def test_every_topic_has_a_type_and_every_typed_type_a_known_topic():
    topics = {t.name for t in TOPICS}
    for m in CATALOG:
        assert (m.topic is None) == (m.table is None), m.name
        if m.topic:
            assert m.topic in topics
    for t in TOPICS:
        assert catalog.by_topic(t.name), t.name


def test_all_six_bet_messages_share_the_lifecycle_topic_and_table():
    bets = [m for m in CATALOG if m.name.startswith("Bet")]
    assert {m.name for m in bets} == {
        "BetAccepted",
        "BetRejected",
        "BetFailed",
        "BetCancelled",
        "BetResulted",
        "BetSettled",
    }
    assert {(m.topic, m.table) for m in bets} == {("tote-bet-lifecycle", "bet_lifecycle")}
    assert tuple(m.name for m in bets) == catalog.BET_TYPES


def test_raw_only_types_are_subscribed_but_not_routed():
    for field in ("onEventUpdated", "onLinesChanged"):
        spec = catalog.by_field(field)
        assert spec is not None and spec.topic is None and spec.table is None


def test_names_and_fields_are_unique_and_look_like_tote():
    assert len({m.name for m in CATALOG}) == len(CATALOG)
    assert len({m.field for m in CATALOG}) == len(CATALOG)
    for m in CATALOG:
        assert m.field == f"on{m.name}"
        assert catalog.by_name(m.name) is m and catalog.by_field(m.field) is m


@pytest.mark.parametrize("spec", CATALOG, ids=lambda m: m.name)
def test_subscription_document_has_one_root_field_and_balanced_braces(spec):
    doc = catalog.subscription_document(spec)
    assert doc.count("{") == doc.count("}")
    assert re.match(rf"^subscription {spec.name} \{{ {spec.field} \{{", doc)
    assert catalog.subscription_document(spec, "{ x }").endswith(f"{spec.field} {{ x }} }}")


@pytest.mark.parametrize("spec", [m for m in CATALOG if m.table], ids=lambda m: m.name)
def test_typed_columns_say_where_they_come_from(spec):
    names = [c.name for c in spec.columns]
    assert set(spec.key_columns) <= set(names)
    assert set(spec.attribute_columns) <= set(names)
    assert spec.required_columns, "every typed message needs at least one required field"
    for column in spec.columns:
        assert isinstance(column.kind, Kind) and column.sources, column.name


def test_types_sharing_a_table_share_its_columns():
    by_table: dict[str, set[tuple[Column, ...]]] = {}
    for m in CATALOG:
        if m.table:
            by_table.setdefault(m.table, set()).add(m.columns)
    assert all(len(cols) == 1 for cols in by_table.values())


def _leaf_types(schema):
    for field in schema:
        if field["type"] == "RECORD":
            yield from _leaf_types(field["fields"])
        else:
            yield field["name"], field["type"]


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda t: t.name)
def test_tables_partition_on_a_timestamp_cluster_on_columns_and_never_use_float(table):
    top = {f["name"]: f for f in table.schema}
    assert top[table.partition_field]["type"] == "TIMESTAMP"
    assert set(table.clustering) <= set(top)
    assert 1 <= len(table.clustering) <= 4
    leaves = dict(_leaf_types(table.schema))
    assert "FLOAT" not in leaves.values() and "FLOAT64" not in leaves.values()
    for name, bq_type in leaves.items():
        if "amount" in name:
            assert bq_type == "NUMERIC", name


def test_every_typed_table_is_listed_with_its_types():
    typed = {m.table for m in CATALOG if m.table}
    reference = set(catalog.REFERENCE_TABLES.values())
    assert set(TABLES) == typed | reference | {catalog.RAW_TABLE, catalog.DEAD_LETTER_TABLE}
    assert TABLES["bet_lifecycle"].message_types == catalog.BET_TYPES


def test_reference_tables_hold_the_reference_row_columns_and_ids_are_required():
    for kind, name in catalog.REFERENCE_TABLES.items():
        spec = TABLES[name]
        columns = [c.name for c in spec.columns]
        assert columns[:5] == ["reference_kind", "frame_id", "received_at", "as_of", "ingested_at"]
        assert columns[5:] == [c.name for c in catalog.REFERENCE_COLUMNS[kind]]
        id_column = spec.columns[5]
        assert (id_column.name, id_column.mode) == (f"{kind}_id", "REQUIRED")
        assert spec.clustering[0] == f"{kind}_id"
