"""The published contract (docs/schema) is up to date and real payloads validate against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contract import catalog
from tests.webapp.messages import race_day, typed_message
from webapp import schema
from webapp.bus import EventBus
from webapp.events import parse_message

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema"


def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA / name).read_text())


def test_committed_files_are_up_to_date() -> None:
    assert schema.main(["--check"]) == 0, "run: python -m webapp.schema"


def test_every_stream_has_a_valid_draft_2020_12_schema_with_the_version() -> None:
    for name in [*schema.streams(), "replay-gap", "state"]:
        document = _load(f"{name}.json")
        jsonschema.Draft202012Validator.check_schema(document)
        assert document["x-contract-version"] == schema.CONTRACT_VERSION


def test_released_payloads_of_a_race_day_validate() -> None:
    bus = EventBus(buffer_size=50_000, history_from_ms=0)
    for message in race_day(races=2, pools_per_race=2, runners=3):
        bus.publish(parse_message(*message))
    validators = {s: jsonschema.Draft202012Validator(_load(f"{s}.json")) for s in schema.streams()}
    seen = set()
    for seq in range(1, bus.stats().events_in + 1):
        event = bus._ring.get(seq)
        assert event is not None
        validators[event.stream].validate(json.loads(event.body))
        seen.add(event.stream)
    assert seen >= {"pool-total", "reference", "event-result", "pool-dividend"}


@pytest.mark.parametrize("spec", [m for m in catalog.CATALOG if m.name.startswith("Bet")])
def test_bet_payloads_validate(spec: catalog.MessageType) -> None:
    data, attributes, topic = typed_message(spec.name, {"bet_id": "ab" * 16, "status": "WON"})
    body = json.loads(data)
    jsonschema.validate(body, _load("bet-lifecycle.json"))
    assert parse_message(data, attributes, topic).stream == "bet-lifecycle"


def test_a_payload_breaking_the_contract_is_caught() -> None:
    data, _, _ = typed_message("PoolTotalChanged", {"product_id": None})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(data), _load("pool-total.json"))


def test_every_schema_has_examples_that_validate() -> None:
    for name in [*schema.streams(), "replay-gap", "state"]:
        document = _load(f"{name}.json")
        assert document["examples"], name
        for example in document["examples"]:
            jsonschema.validate(example, document)
