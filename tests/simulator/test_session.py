from __future__ import annotations

import json
from typing import Any

import pytest

from simulator.session import Close, Send, ServerSession, root_fields

KEY = "sim-key-1"
FIELDS = ("onPoolTotalChanged", "onBetAccepted")
T, L = "graphql-transport-ws", "graphql-ws"


def session(protocol: str = T) -> ServerSession:
    return ServerSession(protocol, KEY, FIELDS)


def init(auth: str = f"Api-Key {KEY}") -> str:
    return json.dumps({"type": "connection_init", "payload": {"authorization": auth}})


def subscribe(sid: str, query: str, protocol: str = T) -> str:
    kind = "start" if protocol == L else "subscribe"
    return json.dumps({"id": sid, "type": kind, "payload": {"query": query}})


def sent(actions: list[Send | Close]) -> list[dict[str, Any]]:
    return [json.loads(a.text) for a in actions if isinstance(a, Send)]


def close_code(actions: list[Send | Close]) -> int:
    """The code of the close the session answered with (the first action must be a close)."""
    assert isinstance(actions[0], Close), actions
    return actions[0].code


def test_root_fields() -> None:
    assert root_fields("subscription S { onA { x { y } } }") == ["onA"]
    assert root_fields('subscription { a: onA(id: "}") { x } onB { y } }') == ["onA", "onB"]
    for bad in ("query { a }", "subscription S { a { b }", "subscription S"):
        with pytest.raises(ValueError):
            root_fields(bad)


@pytest.mark.parametrize("protocol", [T, L])
def test_happy_path_and_data_frames(protocol: str) -> None:
    s = session(protocol)
    ack = sent(s.receive(init()))
    assert ack[0] == {"type": "connection_ack"}
    assert (len(ack) == 2 and ack[1] == {"type": "ka"}) if protocol == L else len(ack) == 1
    assert (
        s.receive(subscribe("7", "subscription P { onPoolTotalChanged { productId } }", protocol))
        == []
    )
    (frame,) = s.data_frames("onPoolTotalChanged", '{"productId":"p"}')
    expected_type = "data" if protocol == L else "next"
    assert json.loads(frame) == {
        "id": "7",
        "type": expected_type,
        "payload": {"data": {"onPoolTotalChanged": {"productId": "p"}}},
    }
    assert s.data_frames("onBetAccepted", "{}") == []
    stop = json.dumps({"id": "7", "type": "stop" if protocol == L else "complete"})
    s.receive(stop)
    assert s.data_frames("onPoolTotalChanged", "{}") == []


def test_refused_init() -> None:
    assert session(T).receive(init("Api-Key wrong")) == [Close(4403, "Forbidden")]
    actions = session(L).receive(init("Api-Key wrong"))
    assert sent(actions)[0]["type"] == "connection_error"
    assert actions[-1] == Close(1011, "Unauthorized")


def test_protocol_violations_close() -> None:
    s = session(T)
    assert s.receive(subscribe("1", "subscription { onBetAccepted { betId } }")) == [
        Close(4401, "Unauthorized")
    ]
    s.receive(init())
    assert s.receive(init()) == [Close(4429, "Too many initialisation requests")]
    assert close_code(s.receive("not json")) == 4400
    assert close_code(s.receive('{"type":"start","id":"1"}')) == 4400  # legacy type on modern
    s.receive(subscribe("1", "subscription { onBetAccepted { betId } }"))
    assert close_code(s.receive(subscribe("1", "subscription { onBetAccepted { betId } }"))) == 4409
    legacy = session(L)
    legacy.receive(init())
    legacy.receive(subscribe("1", "subscription { onBetAccepted { betId } }", L))
    assert (
        close_code(legacy.receive(subscribe("1", "subscription { onBetAccepted { betId } }", L)))
        == 1011
    )


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("subscription { onPoolTotalChanged { a } onBetAccepted { b } }", "exactly one root field"),
        ("subscription { onNothing { a } }", "does not exist"),
        ("subscription { onBetAccepted { a }", "Syntax error"),
    ],
)
@pytest.mark.parametrize("protocol", [T, L])
def test_validation_errors_are_per_id(query: str, reason: str, protocol: str) -> None:
    s = session(protocol)
    s.receive(init())
    error, complete = sent(s.receive(subscribe("3", query, protocol)))
    assert error["id"] == "3" and error["type"] == "error"
    payload = error["payload"] if protocol == L else error["payload"][0]
    assert reason in payload["message"]
    assert complete == {"id": "3", "type": "complete"}
    assert s.receive(subscribe("4", "subscription { onBetAccepted { betId } }", protocol)) == []
    assert len(s.data_frames("onBetAccepted", "{}")) == 1


def test_ping_pong_and_terminate() -> None:
    s = session(T)
    assert sent(s.receive('{"type":"ping"}')) == [{"type": "pong"}]
    assert s.keepalive() == '{"type":"ping"}'
    legacy = session(L)
    assert legacy.keepalive() == '{"type":"ka"}'
    assert legacy.receive('{"type":"connection_terminate"}') == [
        Close(1000, "Connection terminated")
    ]


def test_any_key_when_none_configured() -> None:
    s = ServerSession(T, None, FIELDS)
    assert sent(s.receive(init("whatever")))[0]["type"] == "connection_ack"
