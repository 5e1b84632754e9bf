"""Frame parsing and classification for both subprotocols and every failure shape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contract import catalog
from pipeline.envelope import MAX_NESTING, FrameError, classify, nesting_depth, parse_envelope
from testsupport import examples


@pytest.mark.parametrize("protocol", ["graphql-ws", "graphql-transport-ws"])
@pytest.mark.parametrize("spec", catalog.CATALOG, ids=lambda m: m.name)
def test_every_type_parses_from_both_protocols(spec, protocol):
    env = parse_envelope(examples.frame(spec.name, protocol=protocol, op_id="7"))
    assert env.message_type is spec
    assert env.operation_id == "7"
    assert env.message == json.loads(
        json.dumps(examples.example_message(spec.name)), parse_float=Decimal
    )


def test_money_is_parsed_as_exact_decimal():
    env = parse_envelope(examples.frame("PoolTotalChanged"))
    amount = env.message["total"]["grossAmounts"][0]["decimalAmount"]
    assert isinstance(amount, Decimal) and amount == Decimal("6645.4")


def _frame(obj) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("data", "stage", "fragment"),
    [
        (b"{not json", "parse", "not JSON"),
        (b"\xff\xfe", "parse", "not UTF-8"),
        (b"[1, 2]", "parse", "not an object"),
        (_frame({"type": "ka"}), "parse", "not a data frame: type='ka'"),
        (_frame({"type": "data", "id": "1"}), "parse", "without an object payload"),
        (_frame({"type": "data", "id": "1", "payload": {}}), "parse", "neither data nor errors"),
        (
            _frame({"type": "next", "id": "1", "payload": {"data": {"a": {}, "b": {}}}}),
            "parse",
            "exactly one root field",
        ),
        (
            _frame({"type": "next", "id": "1", "payload": {"data": {"onSomethingNew": {}}}}),
            "unknown_type",
            "onSomethingNew",
        ),
        (
            _frame({"type": "next", "id": "1", "payload": {"data": {"onPoolTotalChanged": 5}}}),
            "validate",
            "not an object",
        ),
        (
            _frame({"type": "error", "id": "3", "payload": [{"message": "Field x unknown"}]}),
            "graphql_error",
            "operation 3: Field x unknown",
        ),
        (
            _frame({"type": "error", "id": "4", "payload": {"message": "legacy single error"}}),
            "graphql_error",
            "legacy single error",
        ),
        (
            _frame(
                {
                    "type": "data",
                    "id": "5",
                    "payload": {
                        "data": None,
                        "errors": [{"message": "boom", "extensions": {"code": "AUTH"}}],
                    },
                }
            ),
            "graphql_error",
            "boom [AUTH]",
        ),
    ],
)
def test_bad_frames_raise_with_stage_and_reason(data, stage, fragment):
    with pytest.raises(FrameError) as info:
        parse_envelope(data)
    assert info.value.stage == stage
    assert fragment in info.value.reason


def test_partial_errors_keep_the_data():
    frame = {
        "type": "next",
        "id": "1",
        "payload": {
            "data": {"onProductStatusChanged": {"productId": "p", "status": "OPEN"}},
            "errors": [{"message": "deprecated field"}],
        },
    }
    env = parse_envelope(_frame(frame))
    assert env.message_type.name == "ProductStatusChanged"
    assert env.partial_errors == ("deprecated field",)


def test_aliased_root_field_is_classified_by_the_subscription_attribute():
    frame = {"type": "next", "id": "1", "payload": {"data": {"pools": {"productId": "p"}}}}
    env = parse_envelope(_frame(frame), subscription="onPoolTotalChanged")
    assert env.message_type.name == "PoolTotalChanged"


@pytest.mark.parametrize("key", ["MessageType", "messageType", "__typename"])
def test_discriminator_classifies_pascal_case_objects(key):
    spec = classify("somethingElse", None, {key: "ProductStatusChanged", "ProductId": "p"})
    assert spec is not None and spec.name == "ProductStatusChanged"
    assert classify("x", None, {key: "Nope"}) is None


# --- Hostile shapes that used to end as ``internal`` dead letters (probe of the local system) ---


@pytest.mark.parametrize(
    ("frame", "stage", "fragment"),
    [
        ({"type": ["next"], "id": "1", "payload": {}}, "parse", "type is a list"),
        ({"type": {"a": 1}, "id": "1", "payload": {}}, "parse", "type is a dict"),
        (
            {"type": "error", "id": "2", "payload": [{"message": "no", "extensions": 5}]},
            "graphql_error",
            "operation 2: no",
        ),
        (
            {"type": "next", "id": "3", "payload": {"data": None, "errors": [{"extensions": []}]}},
            "graphql_error",
            "GraphQL errors",
        ),
    ],
)
def test_odd_frames_are_parse_or_graphql_errors_not_crashes(frame, stage, fragment):
    with pytest.raises(FrameError) as info:
        parse_envelope(json.dumps(frame).encode())
    assert info.value.stage == stage
    assert fragment in info.value.reason


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 990, 1020])
def test_deep_nesting_is_a_parse_error_not_a_recursion_error(depth):
    inner = "[" * depth + "]" * depth
    data = (
        '{"type":"next","id":"1","payload":{"data":{"onPoolTotalChanged":'
        f'{{"productId":"p","x":{inner}}}}}}}}}'
    ).encode()
    with pytest.raises(FrameError) as info:
        parse_envelope(data)
    assert info.value.stage == "parse"
    assert "nested deeper" in info.value.reason


def test_nesting_up_to_the_limit_is_accepted():
    message = examples.example_message("PoolTotalChanged")
    nested: object = 1
    for _ in range(MAX_NESTING - 6):  # frame → payload → data → message → extra → lists
        nested = [nested]
    message["extra"] = nested
    envelope = parse_envelope(examples.frame("PoolTotalChanged", message))
    assert envelope.message["extra"] == nested
    assert nesting_depth(json.loads(examples.frame("PoolTotalChanged", message))) <= MAX_NESTING


def test_nesting_depth_counts_objects_and_arrays_iteratively():
    assert nesting_depth(5) == 0
    assert nesting_depth({"a": [1, {"b": []}]}) == 4
    deep: object = []
    for _ in range(5000):  # deeper than the recursion limit: still no RecursionError
        deep = [deep]
    assert nesting_depth(deep) == MAX_NESTING + 1
