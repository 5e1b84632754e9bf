"""The accounting rules themselves (so the end-to-end tests cannot pass vacuously)."""

from tests.e2e.accounting import RawRow, account
from testsupport import examples


def _text(name, **overrides):
    return examples.frame(name, examples.example_message(name, **overrides)).decode()


OPEN = _text("ProductStatusChanged", status="OPEN")
CLOSED = _text("ProductStatusChanged", status="CLOSED")
BAD = '{"type":"next"'


def test_a_correct_run_has_no_problems():
    raw = [RawRow("a", OPEN), RawRow("b", OPEN), RawRow("c", CLOSED), RawRow("d", BAD)]
    problems = account(
        sent=[OPEN, OPEN, CLOSED, BAD],
        raw=raw,
        typed={"a": 1, "c": 1},  # b is a semantic duplicate of a
        dead={"d": "parse"},
        topics={"a": 1, "c": 1},
        sse={"a": 1, "c": 1},
    )
    assert problems == []


def test_every_kind_of_loss_or_duplication_is_reported():
    raw = [RawRow("a", OPEN), RawRow("a", OPEN), RawRow("c", CLOSED), RawRow("d", BAD)]
    problems = account(
        sent=[OPEN, CLOSED, CLOSED, BAD, "never stored"],
        raw=raw,
        typed={"a": 2, "x": 1},
        dead={},
        topics={"a": 1, "c": 2},
        sse={},
    )
    text = "\n".join(problems)
    assert "sent 1x but stored raw 2x" in text  # OPEN duplicated in raw
    assert "sent 2x but stored raw 1x" in text  # CLOSED lost once
    assert "sent 1x but stored raw 0x: never stored" in text
    assert "raw frame_id a stored 2x" in text
    assert "d: expected dead letter 'parse', found None" in text
    assert "none of ['c'] reached its typed table" in text
    assert "typed row x has no valid raw frame" in text
    assert "typed row a stored 2x" in text
    assert "typed topic: c delivered 2x" in text
    assert "SSE: 2 typed frames never delivered" in text


def test_a_stale_frame_may_be_stored_but_withheld_from_the_topics():
    """The ordering guard: an older state processed after a newer one of the same entity is
    stored (history) but not published; a withheld frame with no newer published one is lost."""
    t = "2026-11-26T14:00:0{}.000Z"
    raw = [RawRow("new", CLOSED, t.format(2)), RawRow("old", OPEN, t.format(1))]
    ok = account(
        sent=[CLOSED, OPEN],
        raw=raw,
        typed={"new": 1, "old": 1},
        dead={},
        topics={"new": 1},
        sse={"new": 1},
    )
    assert ok == []
    lost = account(
        sent=[CLOSED, OPEN],
        raw=[RawRow("new", CLOSED, t.format(1)), RawRow("old", OPEN, t.format(2))],
        typed={"new": 1, "old": 1},
        dead={},
        topics={"new": 1},
        sse={"new": 1},
    )
    assert any("typed frames never delivered" in p for p in lost)
