from __future__ import annotations

import json

import pytest

from contract import catalog
from tests.webapp.messages import EVENT, PRODUCT, event_status, pool_total, typed_message
from webapp.events import Event, EventId, MessageError, new_epoch, parse_message, stream_for_topic


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
    incoming = parse_message(b'{"message_type": "BetVoided", "data": {}}', {}, "tote-bet-lifecycle")
    assert incoming.stream == "bet-lifecycle" and incoming.message_type == "BetVoided"


def test_event_ids_round_trip_and_reject_foreign_forms() -> None:
    assert EventId.parse("mwx1a2-42") == EventId("mwx1a2", 42)
    assert str(EventId("abc", 7)) == "abc-7"
    for bad in (None, "", "42", "abc-", "-5", "abc-x1", "a b-1", "abc-²", "abc-٣", "é-1"):
        assert EventId.parse(bad) is None


def test_epochs_differ_over_time_and_are_base36() -> None:
    assert new_epoch(1.0) != new_epoch(2.0)
    assert new_epoch(1_700_000_000.0).isalnum()


def test_numbered_event_carries_a_ready_sse_frame() -> None:
    incoming = parse_message(*pool_total("2.5")[:2], "tote-pool-total-changed")
    event = Event.number(incoming, "ep", 3)
    assert event.id == "ep-3"
    assert event.frame.startswith(b"id: ep-3\nevent: pool-total\ndata: {")
    assert event.frame.endswith(b"}\n\n")
