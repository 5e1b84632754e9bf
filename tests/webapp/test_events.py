from __future__ import annotations

import json

import pytest

from contract import catalog
from tests.webapp.messages import EVENT, PRODUCT, event_status, pool_total, typed_message
from webapp.events import EventKey, MessageError, make_event, parse_message, stream_for_topic


def test_every_typed_topic_has_a_stream_from_the_catalog() -> None:
    for topic in catalog.TOPICS:
        assert stream_for_topic(topic.name) == topic.stream
        assert (
            stream_for_topic(f"projects/p/topics/dev-{topic.name}", prefix="dev-") == topic.stream
        )
    with pytest.raises(MessageError, match="not one of the catalog"):
        stream_for_topic("tote-ingress")


def test_pool_total_message_is_parsed_with_filter_keys() -> None:
    data, attributes, topic = pool_total("6645.4")
    incoming = parse_message(data, attributes, topic, message_id="m1")
    assert incoming.stream == "pool-total"
    assert incoming.message_type == "PoolTotalChanged"
    assert incoming.keys == {"product_id": PRODUCT}
    body = json.loads(incoming.body)
    assert body["data"]["gross_amounts"] == [{"amount": "6645.4", "currency": "GBP"}]
    assert body["payload"]["isFinalized"] is False  # original payload passes through
    assert b"\n" not in incoming.body


def test_keys_fall_back_to_data_and_product_ids_are_lower_cased() -> None:
    data, _, topic = pool_total("1", product_id=PRODUCT.upper())
    incoming = parse_message(data, {}, topic)
    assert incoming.keys["product_id"] == PRODUCT
    data, attributes, topic = event_status("OFF")
    assert parse_message(data, attributes, topic).keys == {"event_id": EVENT}


def test_bet_types_share_the_bet_lifecycle_stream() -> None:
    data, attributes, topic = typed_message("BetAccepted", {"bet_id": "AB" * 16})
    incoming = parse_message(data, attributes, topic)
    assert incoming.stream == "bet-lifecycle"
    assert incoming.keys == {"bet_id": "ab" * 16}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"message_type": "PoolTotalChanged", "x": Infinity}', "not UTF-8 JSON"),
        (b'{"data": {}}', "no message_type"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        parse_message(data, {}, "tote-pool-total-changed")


def test_a_type_on_the_wrong_topic_is_rejected() -> None:
    data, attributes, _ = pool_total("1")
    with pytest.raises(MessageError, match="belongs on stream 'pool-total'"):
        parse_message(data, attributes, "tote-event-status-changed")


def test_unknown_message_types_on_a_typed_topic_pass_through() -> None:
    incoming = parse_message(
        b'{"message_type": "BetVoided", "data": {}}',
        {},
        "tote-bet-lifecycle",
        message_id="42",
        published_at=1_764_165_787.5,
    )
    assert incoming.stream == "bet-lifecycle" and incoming.message_type == "BetVoided"
    # Placed by the Pub/Sub publish time and message id, the same for every subscriber.
    assert incoming.key.ms == 1_764_165_787_500


def test_a_message_without_frame_metadata_still_gets_an_id_every_instance_agrees_on() -> None:
    data = b'{"message_type": "BetVoided", "data": {}}'
    first = parse_message(data, {}, "tote-bet-lifecycle", published_at=1_764_165_787.5)
    again = parse_message(data, {}, "tote-bet-lifecycle", published_at=1_764_165_787.5)
    assert first.id == again.id and EventKey.parse(first.id) == first.key  # from the bytes
    other = parse_message(
        b'{"message_type": "BetVoided", "data": {"x": 1}}', {}, "tote-bet-lifecycle"
    )
    assert other.key.frame != first.key.frame


def test_ids_derive_from_the_data_so_every_instance_agrees() -> None:
    message = pool_total("1")
    first = parse_message(*message, message_id="a", published_at=1.0)
    again = parse_message(*message, message_id="b", published_at=2.0)  # republished
    assert first.id == again.id
    ms, frame, sub = first.id.split("-")
    assert ms == "1795701787123" and frame == json.loads(message[0])["frame_id"]
    assert len(sub) == 8 and EventKey.parse(first.id) == first.key


def test_ids_are_ordered_by_time_then_frame() -> None:
    early = parse_message(*pool_total("1", received_at="2026-11-26T14:03:07.123Z")).key
    late = parse_message(*pool_total("1", received_at="2026-11-26T14:03:07.124Z")).key
    assert early < late
    assert EventKey(5, "b", "0") > EventKey(5, "a", "f") > EventKey(4, "z", "f")


def test_foreign_frame_ids_are_hashed_into_a_short_ascii_id() -> None:
    key = EventKey.derive(1, "pubsub-12345678901234567890/Ünïcode", "PoolTotalChanged|x")
    assert len(key.frame) == 16 and str(key).isascii()
    assert EventKey.parse(str(key)) == key
    assert key == EventKey.derive(1, "pubsub-12345678901234567890/Ünïcode", "PoolTotalChanged|x")


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "42",
        b"1764165787123-ab-0000abcd",
        "ep-3",
        " 1764165787123-ab-0000abcd",
        "1764165787123-ab-0000abcd\n",
        "1764165787123-AB-0000abcd",
        "١٧٦٤١٦٥٧٨٧١٢٣-ab-0000abcd",  # non-ASCII digits
        "1764165787123-ab-0000abcg",
        "1764165787123-" + "a" * 33 + "-0000abcd",
        "x" * 10_000,
    ],
)
def test_id_parsing_is_strict_and_never_raises(raw: object) -> None:
    assert EventKey.parse(raw) is None


def test_id_parsing_survives_random_input() -> None:
    import random

    rng = random.Random(7)
    alphabet = "0123456789abcdef-xyzÀ٣\x00 "
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        parsed = EventKey.parse(text)
        assert parsed is None or str(parsed) == text


def test_as_of_orders_state_when_present() -> None:
    data, attributes, topic = pool_total("1")
    body = json.loads(data)
    body["as_of"] = "2026-11-26T14:00:00.000Z"
    body["source"] = "query"
    incoming = parse_message(json.dumps(body).encode(), attributes, topic)
    assert incoming.as_of_ms == 1_795_701_600_000 < incoming.key.ms


def test_reference_messages_are_parsed_and_keyed_by_entity() -> None:
    from tests.webapp.messages import reference

    incoming = parse_message(*reference("product", PRODUCT.upper(), {"event_id": EVENT}))
    assert incoming.stream == "reference" and incoming.message_type == "product"
    assert incoming.keys == {"product_id": PRODUCT, "event_id": EVENT}
    with pytest.raises(MessageError, match="kind"):
        parse_message(b'{"kind": "bet", "id": "x", "values": {}}', {}, "tote-reference")
    with pytest.raises(MessageError, match="as_of"):
        parse_message(b'{"kind": "event", "id": "x", "values": {}}', {}, "tote-reference")


def test_released_event_carries_a_ready_sse_frame_with_its_data_id() -> None:
    incoming = parse_message(*pool_total("2.5")[:2], "tote-pool-total-changed")
    event = make_event(incoming, 3, None)
    assert event.id == incoming.id and event.seq == 3
    assert event.frame.startswith(f"id: {event.id}\nevent: pool-total\ndata: {{".encode())
    assert event.frame.endswith(b"}\n\n")


def test_instance_names_differ_over_time_and_are_base36() -> None:
    from webapp.events import new_epoch

    assert new_epoch(1.0) != new_epoch(2.0) and new_epoch(1_700_000_000.0).isalnum()
