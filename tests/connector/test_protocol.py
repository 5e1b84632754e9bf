from __future__ import annotations

import json

import pytest

from connector.protocol import (
    GRAPHQL_TRANSPORT_WS,
    GRAPHQL_WS,
    ClientProtocol,
    EventKind,
    describe_close,
    is_fatal_close,
)
from connector.subscriptions import plan_subscriptions

AUTH = "Api-Key abc123"


def proto(protocol: str) -> ClientProtocol:
    return ClientProtocol(
        protocol, AUTH, plan_subscriptions(["onPoolTotalChanged", "onBetAccepted"]), "ua"
    )


@pytest.mark.parametrize("protocol", [GRAPHQL_TRANSPORT_WS, GRAPHQL_WS])
def test_init_carries_authorization(protocol: str) -> None:
    init = json.loads(proto(protocol).init_message())
    assert init == {
        "type": "connection_init",
        "payload": {"authorization": AUTH, "useragent": "ua"},
    }


@pytest.mark.parametrize(
    ("protocol", "kind"), [(GRAPHQL_TRANSPORT_WS, "subscribe"), (GRAPHQL_WS, "start")]
)
def test_one_operation_per_field_with_unique_ids(protocol: str, kind: str) -> None:
    frames = [json.loads(f) for f in proto(protocol).subscribe_messages()]
    assert [f["type"] for f in frames] == [kind, kind]
    assert len({f["id"] for f in frames}) == 2
    assert "onPoolTotalChanged" in frames[0]["payload"]["query"]
    assert "onBetAccepted" in frames[1]["payload"]["query"]


def test_stop_messages() -> None:
    modern = [json.loads(f)["type"] for f in proto(GRAPHQL_TRANSPORT_WS).stop_messages()]
    legacy = [json.loads(f)["type"] for f in proto(GRAPHQL_WS).stop_messages()]
    assert modern == ["complete", "complete"]
    assert legacy == ["stop", "stop", "connection_terminate"]


@pytest.mark.parametrize(
    ("protocol", "kind"), [(GRAPHQL_TRANSPORT_WS, "next"), (GRAPHQL_WS, "data")]
)
def test_data_frames_are_routed_by_id(protocol: str, kind: str) -> None:
    p = proto(protocol)
    event = p.receive(json.dumps({"id": "2", "type": kind, "payload": {"data": {}}}).encode())
    assert event.kind is EventKind.DATA and event.forward
    assert event.subscription == "onBetAccepted"
    stray = p.receive(json.dumps({"id": "99", "type": kind, "payload": {}}))
    assert stray.kind is EventKind.DATA and stray.subscription is None and "99" in stray.detail


def test_ack_ping_ka_pong() -> None:
    p = proto(GRAPHQL_TRANSPORT_WS)
    assert not p.acknowledged
    assert p.receive('{"type":"connection_ack"}').kind is EventKind.ACK
    assert p.acknowledged
    ping = p.receive('{"type":"ping","payload":{"n":1}}')
    assert ping.kind is EventKind.PING and json.loads(ping.reply or "") == {
        "type": "pong",
        "payload": {"n": 1},
    }
    assert p.receive('{"type":"pong"}').kind is EventKind.PONG
    assert p.receive('{"type":"ka"}').kind is EventKind.KEEPALIVE
    assert not p.receive('{"type":"ka"}').forward
    assert p.ping_message() == '{"type":"ping"}'
    assert proto(GRAPHQL_WS).ping_message() is None  # graphql-ws has no client ping


@pytest.mark.parametrize(
    "payload",
    [[{"message": "The field `x` does not exist"}], {"message": "The field `x` does not exist"}],
)
def test_error_for_an_id_names_the_subscription(payload: object) -> None:
    event = proto(GRAPHQL_WS).receive(json.dumps({"id": "1", "type": "error", "payload": payload}))
    assert event.kind is EventKind.ERROR and event.forward
    assert event.subscription == "onPoolTotalChanged"
    assert event.detail == "The field `x` does not exist"


def test_complete_connection_error_unknown() -> None:
    p = proto(GRAPHQL_WS)
    done = p.receive('{"id":"1","type":"complete"}')
    assert done.kind is EventKind.COMPLETE and done.subscription == "onPoolTotalChanged"
    refused = p.receive('{"type":"connection_error","payload":{"message":"Unauthorized"}}')
    assert refused.kind is EventKind.CONNECTION_ERROR and refused.detail == "Unauthorized"
    odd = p.receive('{"type":"surprise"}')
    assert odd.kind is EventKind.UNKNOWN and not odd.forward


@pytest.mark.parametrize(
    "text", [b"{broken", b"[1,2]", b'{"type": 3}', b'{"type":"next"}', b"\xff\xfe"]
)
def test_malformed_frames_are_forwarded_for_dead_lettering(text: bytes) -> None:
    event = proto(GRAPHQL_TRANSPORT_WS).receive(text)
    assert event.kind is EventKind.MALFORMED and event.forward and event.detail


def test_unsupported_protocol() -> None:
    with pytest.raises(ValueError, match="subprotocol"):
        ClientProtocol("mqtt", AUTH, [])


def test_close_codes() -> None:
    for code in (4400, 4401, 4403, 4409, 4429):
        assert is_fatal_close(code)
    for other in (1000, 1001, 1006, 1011, 4408, None):
        assert not is_fatal_close(other)
    assert describe_close(4401, "nope") == "close 4401: unauthorized (API key refused) (nope)"
    assert describe_close(None) == "connection lost"
