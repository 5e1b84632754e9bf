from __future__ import annotations

import pytest

from webapp import sse


def test_event_frame_has_id_event_and_data() -> None:
    assert (
        sse.event_frame("e-1", "pool-total", b'{"a":1}')
        == b'id: e-1\nevent: pool-total\ndata: {"a":1}\n\n'
    )


def test_multiline_data_becomes_several_data_lines() -> None:
    frame = sse.event_frame("e-2", "x", "one\ntwo\r\nthree")
    assert frame == b"id: e-2\nevent: x\ndata: one\ndata: two\ndata: three\n\n"
    (message,) = list(sse.Parser().feed(frame))
    assert message.data == "one\ntwo\nthree"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb"])
def test_id_and_event_name_must_be_single_lines(bad: str) -> None:
    with pytest.raises(ValueError, match="single line"):
        sse.event_frame(bad, "x", "d")
    with pytest.raises(ValueError, match="single line"):
        sse.event_frame("1", bad, "d")


def test_comment_and_retry() -> None:
    assert sse.comment("heartbeat") == b": heartbeat\n\n"
    assert sse.retry_frame(2500) == b"retry: 2500\n\n"


def test_parser_handles_arbitrary_splits_comments_and_retry() -> None:
    stream = (
        sse.retry_frame(1000)
        + sse.comment("hello")
        + sse.event_frame("s-1", "pool-total", '{"n":1}')
        + sse.event_frame("s-2", "product-status", '{"n":2}')
    )
    parser = sse.Parser()
    messages: list[sse.Message] = []
    for i in range(len(stream)):  # one byte at a time: worst case for an incremental parser
        messages.extend(parser.feed(stream[i : i + 1]))
    assert [(m.id, m.event, m.json()) for m in messages] == [
        ("s-1", "pool-total", {"n": 1}),
        ("s-2", "product-status", {"n": 2}),
    ]
    assert parser.comments == ["hello"]
    assert parser.retry == 1000


def test_parser_defaults_event_name_to_message() -> None:
    (message,) = list(sse.Parser().feed(b"data: x\n\n"))
    assert message.event == "message" and message.id is None


def test_headers_disable_proxy_buffering_and_caching() -> None:
    assert sse.HEADERS["Content-Type"].startswith("text/event-stream")
    assert sse.HEADERS["X-Accel-Buffering"] == "no"
    assert "no-transform" in sse.HEADERS["Cache-Control"]
