from __future__ import annotations

import pytest

from webapp.outbox import Outbox, chunk


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSocket:
    """Accepts up to ``room`` bytes, then raises BlockingIOError like a full socket buffer."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.data = b""

    def send(self, view: bytes | memoryview) -> int:  # send_framed passes bytes, flush views
        if self.room <= 0:
            raise BlockingIOError
        n = min(self.room, len(view))
        self.data += bytes(view[:n])
        self.room -= n
        return n


def test_chunk_framing() -> None:
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26) == b"1A\r\n" + b"x" * 26 + b"\r\n"


def test_push_is_refused_beyond_the_event_limit() -> None:
    box = Outbox(limit=3, chunked=False)
    assert box.push(b"a", 2) and box.push(b"b", 1)
    assert not box.push(b"c", 1)
    assert box.pending_events == 3


def test_partial_writes_resume_where_they_stopped() -> None:
    clock = Clock()
    box = Outbox(limit=10, chunked=True, clock=clock)
    box.push(b"abcdef", 2)
    box.push(b"gh", 1)
    sock = FakeSocket(room=4)
    assert box.flush(sock.send) == 4
    assert box.pending_events == 3 and box.stalled_since == 0.0
    sock.room = 100
    clock.now = 5.0
    box.flush(sock.send)
    assert sock.data == chunk(b"abcdef") + chunk(b"gh")
    assert not box and box.pending_events == 0 and box.sent_events == 3
    assert box.stalled_since is None and box.last_write == 5.0


def test_a_socket_that_takes_nothing_makes_the_outbox_stall() -> None:
    clock = Clock()
    box = Outbox(limit=10, chunked=False, clock=clock)
    box.push(b"abc", 1)
    clock.now = 7.0
    assert box.flush(FakeSocket(room=0).send) == 0
    assert box.stalled_for() == 7.0


def test_a_dead_socket_raises() -> None:
    box = Outbox(limit=10)
    box.push(b"abc", 1)

    def broken(_: memoryview) -> int:
        raise BrokenPipeError

    with pytest.raises(BrokenPipeError):
        box.flush(broken)


def test_fast_path_sends_at_once_when_the_socket_takes_everything() -> None:
    box = Outbox(limit=10, chunked=True)
    sock = FakeSocket(room=1000)
    box.send_or_queue(b"hello", 1, sock.send)
    assert sock.data == chunk(b"hello") and not box and box.sent_events == 1


def test_fast_path_queues_what_the_socket_refuses_and_keeps_order() -> None:
    clock = Clock()
    box = Outbox(limit=10, chunked=False, clock=clock)
    sock = FakeSocket(room=3)
    box.send_or_queue(b"abcdef", 2, sock.send)
    assert box and box.pending_events == 2 and box.stalled_since == 0.0
    with pytest.raises(RuntimeError, match="empty outbox"):
        box.send_framed(b"later", 1, sock.send)
    sock.room = 100
    box.flush(sock.send)
    assert sock.data == b"abcdef" and box.sent_events == 2 and not box


def test_fast_path_on_a_full_socket_queues_everything() -> None:
    box = Outbox(limit=10, chunked=False)
    box.send_or_queue(b"abc", 1, FakeSocket(room=0).send)
    assert box.pending_bytes == 3 and box.pending_events == 1
