"""process_frame end to end on plain data, and every row it yields fits its table's schema."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contract import catalog, ingress
from devstack.insert_validation import row_problems
from pipeline import records
from pipeline.core import TEST_MESSAGE_TYPE, process_frame
from pipeline.transforms import failed_row_to_dead_letter, table_for_row
from testsupport import examples

NOW = datetime(2026, 11, 26, 14, 3, 7, 123000, tzinfo=UTC)


def _process(data: bytes, **attrs) -> records.Frame:
    _, base = examples.ingress_message(b"", frame_id="f1", received_at=NOW)
    base.update(attrs)
    return process_frame(data, {k: v for k, v in base.items() if v is not None}, now=NOW)


def _fits(table: str, row: dict[str, Any]) -> None:
    assert row_problems(row, catalog.table_schema(table)) == []
    assert table_for_row(row) == table


@pytest.mark.parametrize("spec", [m for m in catalog.CATALOG if m.table], ids=lambda m: m.name)
def test_typed_frame_yields_rows_and_a_message_that_fit_the_catalog(spec):
    frame = _process(examples.frame(spec.name), subscription=spec.field)
    assert frame.dead_letter is None and frame.event is not None
    assert frame.message_type == spec.name
    assert frame.dedup_key == frame.event.key and frame.event.key.startswith(spec.name + "|")
    _fits(spec.table, records.typed_row(frame))
    _fits(catalog.RAW_TABLE, records.raw_row(frame))

    topic, data, attrs = records.typed_message(frame)
    body = json.loads(data)
    assert topic == spec.topic
    assert body["message_type"] == spec.name and body["frame_id"] == "f1"
    assert body["received_at"] == "2026-11-26T14:03:07.123Z"
    assert body["data"] == json.loads(json.dumps(frame.event.values))
    assert attrs["message_type"] == spec.name and attrs["frame_id"] == "f1"
    for col in spec.attribute_columns:
        assert attrs[col] == frame.event.values[col]


def test_typed_row_keeps_the_original_message_and_exact_money():
    frame = _process(examples.frame("PoolTotalChanged"))
    row = records.typed_row(frame)
    assert json.loads(row["payload"]) == examples.example_message("PoolTotalChanged")
    assert row["gross_amounts"] == [{"amount": "6645.4", "currency": "GBP"}]
    assert row["received_at"] == "2026-11-26T14:03:07.123Z"


def test_raw_row_is_the_frame_exactly_as_received():
    data = examples.frame("ProductStatusChanged", protocol="graphql-transport-ws")
    row = records.raw_row(_process(data, subscription="onProductStatusChanged"))
    assert row["data"].encode() == data
    assert row["subscription"] == "onProductStatusChanged"
    assert row["protocol"] == "graphql-ws"
    assert json.loads(row["attributes"])["frame_id"] == "f1"


@pytest.mark.parametrize(
    ("data", "attrs", "stage"),
    [
        (b"{oops", {}, "parse"),
        (examples.frame("ProductStatusChanged", {"productId": "p"}), {}, "validate"),
        (b'{"type":"next","id":"1","payload":{"data":{"onNew":{}}}}', {}, "unknown_type"),
        (b'{"type":"error","id":"1","payload":[{"message":"no"}]}', {}, "graphql_error"),
        (examples.frame("ProductStatusChanged"), {"received_at": "yesterday"}, "contract"),
        (examples.frame("ProductStatusChanged"), {"frame_id": None}, "contract"),
        (b" " * (ingress.MAX_FRAME_BYTES + 1), {}, "oversized"),
    ],
)
def test_bad_frames_become_dead_letters_with_reason_and_bytes(data, attrs, stage):
    frame = _process(data, **attrs)
    assert frame.event is None and frame.dead_letter is not None
    assert frame.dead_letter.stage == stage and frame.dead_letter.reason
    row = records.frame_dead_letter_row(frame)
    _fits(catalog.DEAD_LETTER_TABLE, row)
    _fits(catalog.RAW_TABLE, records.raw_row(frame))
    assert base64.b64decode(row["data_base64"]) == data[: records.DEAD_LETTER_MAX_DATA_BYTES]
    topic, body, dl_attrs = records.dead_letter_message(row)
    assert topic == catalog.DEAD_LETTER_TOPIC
    assert json.loads(body)["reason"].startswith(frame.dead_letter.reason)
    assert dl_attrs["stage"] == stage


def test_missing_frame_id_falls_back_to_the_pubsub_message_id_for_dedup():
    data, attrs = examples.ingress_message(examples.frame("ProductStatusChanged"))
    del attrs["frame_id"]
    frame = process_frame(data, attrs, message_id="12345", now=NOW)
    assert frame.frame_id == "pubsub-12345"
    assert frame.dead_letter is not None and "frame_id" in frame.dead_letter.reason


def test_validation_dead_letter_names_the_type_and_every_problem():
    frame = _process(examples.frame("CompetitorStatusChanged", {"eventId": "E"}))
    assert frame.message_type == "CompetitorStatusChanged" and frame.dead_letter is not None
    assert frame.dead_letter.reason == (
        "CompetitorStatusChanged: missing required field competitorId; "
        "missing required field status"
    )


@pytest.mark.parametrize("name", ["EventUpdated", "LinesChanged"])
def test_raw_only_types_are_classified_but_not_typed(name):
    frame = _process(examples.frame(name))
    assert frame.message_type == name and frame.event is None and frame.dead_letter is None
    assert frame.dedup_key.startswith(name + "|#")


def test_connector_test_messages_are_recorded_raw_only():
    frame = _process(b'{"test": true}', test="true")
    assert frame.message_type == TEST_MESSAGE_TYPE
    assert frame.event is None and frame.dead_letter is None


def test_a_redelivered_frame_has_the_same_dedup_key_and_fingerprint():
    data = examples.frame("PoolTotalChanged")
    a, b = _process(data), _process(data)
    assert a.event is not None and b.event is not None
    assert (a.dedup_key, a.event.fingerprint) == (b.dedup_key, b.event.fingerprint)


def test_resent_state_has_the_same_fingerprint_whatever_the_operation_or_protocol():
    message = examples.example_message("ProductStatusChanged")
    a = _process(examples.frame("ProductStatusChanged", message, op_id="1"))
    b = _process(
        examples.frame("ProductStatusChanged", message, op_id="9", protocol="graphql-transport-ws")
    )
    assert a.event is not None and b.event is not None
    assert a.event.fingerprint == b.event.fingerprint
    c = _process(examples.frame("ProductStatusChanged", {**message, "status": "CLOSED"}))
    assert c.event is not None
    assert c.event.fingerprint != a.event.fingerprint and c.dedup_key == a.dedup_key


def test_payload_is_the_message_text_exactly_as_received():
    data = (
        b'{"id":"onPoolTotalChanged","type":"next","payload":{"data":{"onPoolTotalChanged":'
        b' {"productId":"P","total":{"grossAmounts":[{"decimalAmount":1881.80,'
        b'"currency":{"code":"GBP"}}]}}}}}'
    )
    frame = _process(data)
    assert frame.event is not None
    assert frame.event.payload_json == (
        '{"productId":"P","total":{"grossAmounts":[{"decimalAmount":1881.80,'
        '"currency":{"code":"GBP"}}]}}'
    )
    assert frame.event.values["gross_amounts"] == [{"amount": "1881.80", "currency": "GBP"}]


def test_failed_bigquery_rows_become_dead_letters_that_fit():
    row = records.typed_row(_process(examples.frame("ProductStatusChanged")))
    failed = ("p:tote.product_status_changed", row, [{"reason": "invalid", "message": "bad"}])
    dead = failed_row_to_dead_letter(failed)
    _fits(catalog.DEAD_LETTER_TABLE, dead)
    assert dead["stage"] == "bigquery" and "invalid" in dead["reason"]
    assert dead["destination"] == "p:tote.product_status_changed"
    assert json.loads(base64.b64decode(dead["data_base64"])) == row


# --- Hostile input found by probing the local system: nothing vanishes, nothing sticks ---


@pytest.mark.parametrize(
    "bad", ["2026-02-30T10:00:00.000Z", "2026-13-01T10:00:00.000Z", "2026-01-01T25:00:00.000Z"]
)
def test_impossible_received_at_is_a_contract_dead_letter_whose_rows_are_all_valid(bad):
    """These used to pass the fast path; BigQuery then refused every row of the frame."""
    frame = _process(examples.frame("ProductStatusChanged"), received_at=bad)
    assert frame.dead_letter is not None and frame.dead_letter.stage == "contract"
    assert bad in frame.dead_letter.reason
    assert frame.received_at == "2026-11-26T14:03:07.123Z"  # the fallback time
    _fits(catalog.RAW_TABLE, records.raw_row(frame))
    row = records.frame_dead_letter_row(frame)
    _fits(catalog.DEAD_LETTER_TABLE, row)
    assert json.loads(row["attributes"])["received_at"] == bad  # the bad text is kept


@pytest.mark.parametrize(
    ("target", "name"), [("entity_key", "entity_key"), ("fingerprint", "fingerprint")]
)
def test_a_failure_in_keys_or_fingerprints_is_an_internal_dead_letter_not_a_poison_pill(
    monkeypatch, target, name
):
    """The key/fingerprint code sat outside the ``try``: an exception there was retried forever."""
    from pipeline import core

    def broken(*args, **kwargs):
        raise RuntimeError(f"{name} broke")

    monkeypatch.setattr(core.dedup, target, broken)
    frame = _process(examples.frame("ProductStatusChanged"))
    assert frame.dead_letter is not None and frame.dead_letter.stage == "internal"
    assert f"RuntimeError: {name} broke" in frame.dead_letter.reason
    assert "Traceback" in (frame.dead_letter.stack_trace or "")
    assert frame.frame_id == "f1"
    _fits(catalog.DEAD_LETTER_TABLE, records.frame_dead_letter_row(frame))


def test_unusable_attributes_are_an_internal_dead_letter_not_an_exception():
    class Hostile:
        def keys(self):
            raise ValueError("no attributes for you")

    frame = process_frame(b"{}", Hostile(), message_id="m1", now=NOW)  # type: ignore[arg-type]  # a hostile attributes mapping, on purpose
    assert frame.dead_letter is not None and frame.dead_letter.stage == "internal"
    assert frame.frame_id == "pubsub-m1"


def test_attributes_beyond_pubsub_limits_are_a_contract_dead_letter_with_bounded_rows():
    """Only the emulator delivers these; the rows must still fit and say why."""
    frame = _process(examples.frame("ProductStatusChanged"), subscription="é" * 2000)
    assert frame.dead_letter is not None and frame.dead_letter.stage == "contract"
    assert "subscription" in frame.dead_letter.reason
    assert records.attribute_problem(frame.attributes) is None
    _fits(catalog.RAW_TABLE, records.raw_row(frame))
    _fits(catalog.DEAD_LETTER_TABLE, records.frame_dead_letter_row(frame))
