"""Deduplication decisions: transport by frame id within a window, semantic by last emission."""

from __future__ import annotations

from decimal import Decimal

from pipeline.dedup import (
    SHARDS,
    SemanticDeduper,
    TransportDeduper,
    entity_key,
    fingerprint,
    is_semantic_duplicate,
    shard_key,
)

S = 1_000_000  # one second in micros


def test_transport_duplicate_within_window_only():
    dedup = TransportDeduper(window_micros=10 * S)
    assert dedup.seen("a", 0) is False
    assert dedup.seen("a", 5 * S) is True
    assert dedup.seen("b", 5 * S) is False
    assert dedup.seen("a", 11 * S) is False  # window passed: a replay much later is new again
    dedup.expire(30 * S)
    assert len(dedup) == 0


def test_semantic_a_b_a_emits_three_and_repeats_are_dropped():
    dedup = SemanticDeduper(ttl_micros=60 * S)
    decisions = [
        dedup.duplicate("k", fp, t * S)
        for fp, t in [("A", 0), ("A", 1), ("B", 2), ("A", 3), ("A", 4)]
    ]
    assert decisions == [False, True, False, False, True]


def test_semantic_ttl_counts_from_the_last_emission():
    dedup = SemanticDeduper(ttl_micros=10 * S)
    assert dedup.duplicate("k", "A", 0) is False
    assert dedup.duplicate("k", "A", 9 * S) is True
    assert dedup.duplicate("k", "A", 11 * S) is False  # unchanged, but the TTL has passed
    assert dedup.duplicate("other", "A", 11 * S) is False  # keys are independent
    dedup.expire(100 * S)
    assert len(dedup) == 0


def test_is_semantic_duplicate_tolerates_out_of_order_times():
    assert is_semantic_duplicate(("A", 10 * S), "A", 5 * S, 60 * S) is True
    assert is_semantic_duplicate(None, "A", 0, 60 * S) is False


def test_fingerprint_ignores_key_order_and_number_spelling():
    a = {"x": Decimal("1.50"), "y": [1, {"b": 2, "a": 1}]}
    b = {"y": [1, {"a": 1, "b": 2}], "x": Decimal("1.5")}
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint({**a, "x": Decimal("1.51")})


def test_keys():
    assert entity_key("BetAccepted", ["abc"]) == "BetAccepted|abc"
    assert entity_key("SelectionStatusChanged", ["p", None, "s"]) == "SelectionStatusChanged|p||s"
    shards = {shard_key("dead", f"frame-{i}") for i in range(1000)}
    assert len(shards) == SHARDS and shard_key("dead", "x") == shard_key("dead", "x")


def test_pruning_is_batched_not_per_element():
    from pipeline.dedup import PRUNE_SLACK, next_prune

    window = 100 * S
    assert next_prune(oldest_micros=0, now_micros=5 * S, lifetime_micros=window) == window
    # Under steady traffic the oldest entry expires every moment: prune a slack later instead.
    assert next_prune(0, 100 * S, window) == 100 * S + window // PRUNE_SLACK
    dedup = TransportDeduper(window)
    prunes = 0
    original = dedup.expire

    def counting(now):
        nonlocal prunes
        prunes += 1
        original(now)

    dedup.expire = counting
    for i in range(5000):  # 500 s of frames every 100 ms: five windows
        assert dedup.seen(f"f{i}", i * S // 10) is False
    assert prunes <= 5 * PRUNE_SLACK + 1
    assert len(dedup) <= 1100  # one window (+ slack) of ids, not all 5000
