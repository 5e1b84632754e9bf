"""Deduplication decisions: transport by frame id within a window; semantic over normalised
state (query pages by the columns they provide); the ordering guard on ``as_of``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract import ingress
from pipeline import dedup
from pipeline.core import process_frame
from pipeline.dedup import (
    SHARDS,
    Decision,
    SemanticDeduper,
    TransportDeduper,
    entity_key,
    fingerprint,
    shard_key,
)
from pipeline.records import ReferenceRecord, TypedEvent
from testsupport import examples

S = 1_000_000  # one second in micros
T = "2026-11-26T14:03:07.{ms:03d}Z"


def _pool(gross: str = "6645.4", net: str | None = "5316.32", **kw) -> TypedEvent:
    """A PoolTotalChanged event; ``None`` amounts model a query page without that column."""
    values = {
        "product_id": "p1",
        "is_finalized": False,
        "gross_amounts": [{"amount": gross, "currency": "GBP"}],
        "net_amounts": None if net is None else [{"amount": net, "currency": "GBP"}],
    }
    source = kw.pop("source", ingress.SOURCE_SUBSCRIPTION)
    as_of = kw.pop("as_of", T.format(ms=0))
    values.update(kw)
    return TypedEvent(
        message_type="PoolTotalChanged",
        key="PoolTotalChanged|p1",
        fingerprint=fingerprint("PoolTotalChanged", values),
        values=values,
        message={},
        payload_json="{}",
        source=source,
        as_of=as_of,
    )


def test_transport_duplicate_within_window_only():
    dedup = TransportDeduper(window_micros=10 * S)
    assert dedup.seen("a", 0) is False
    assert dedup.seen("a", 5 * S) is True
    assert dedup.seen("b", 5 * S) is False
    assert dedup.seen("a", 11 * S) is False  # window passed: a replay much later is new again
    dedup.expire(30 * S)
    assert len(dedup) == 0


def test_is_transport_duplicate_tolerates_out_of_order_times():
    assert dedup.is_transport_duplicate(10 * S, 5 * S, 60 * S) is True
    assert dedup.is_transport_duplicate(None, 0, 60 * S) is False


def test_semantic_a_b_a_emits_three_and_repeats_are_dropped():
    deduper = SemanticDeduper(ttl_micros=60 * S)
    decisions = [
        deduper.decide(_pool(gross, as_of=T.format(ms=t)), t * S)
        for gross, t in [("1", 0), ("1", 1), ("2", 2), ("1", 3), ("1", 4)]
    ]
    E, D = Decision.EMIT, Decision.DUPLICATE
    assert decisions == [E, D, E, E, D]


def test_semantic_ttl_counts_from_the_last_emission():
    deduper = SemanticDeduper(ttl_micros=10 * S)
    assert deduper.decide(_pool(), 0) is Decision.EMIT
    assert deduper.decide(_pool(), 9 * S) is Decision.DUPLICATE
    assert deduper.decide(_pool(), 11 * S) is Decision.EMIT  # unchanged, but the TTL passed
    other = _pool()
    other.key = "PoolTotalChanged|p2"
    assert deduper.decide(other, 11 * S) is Decision.EMIT  # entities are independent
    deduper.expire(100 * S)
    assert len(deduper) == 0


def test_fingerprint_is_over_normalised_values_whatever_the_decimal_spelling():
    assert _pool("1881.80").fingerprint == _pool("1881.8").fingerprint
    assert _pool("100.00").fingerprint == _pool("100").fingerprint == _pool("1E+2").fingerprint
    assert _pool("1881.80").fingerprint != _pool("1881.81").fingerprint
    a = {"product_id": "p", "is_finalized": True, "gross_amounts": [], "net_amounts": []}
    assert fingerprint("PoolTotalChanged", a) == fingerprint(
        "PoolTotalChanged", dict(reversed(a.items()))
    )
    # A text column that looks like a number is not a number: it keeps its spelling.
    text = {"product_id": "p", "status": "1.50"}
    assert fingerprint("ProductStatusChanged", text) != fingerprint(
        "ProductStatusChanged", {**text, "status": "1.5"}
    )


def test_fingerprint_in_the_core_ignores_how_tote_spelt_the_message():
    def event(amount: bytes):
        data = (
            b'{"id":"onPoolTotalChanged","type":"next","payload":{"data":{"onPoolTotalChanged":'
            b'{"productId":"P","total":{"grossAmounts":[{"decimalAmount":' + amount + b","
            b'"currency":{"code":"GBP"}}]}}}}}'
        )
        _, attrs = examples.ingress_message(b"", frame_id="f")
        return process_frame(data, attrs).event

    assert event(b"1881.80").fingerprint == event(b"1881.8").fingerprint
    assert event(b"1881.80").payload_json != event(b"1881.8").payload_json


def test_a_query_page_equal_to_the_last_streamed_state_is_a_duplicate():
    deduper = SemanticDeduper(ttl_micros=600 * S)
    assert deduper.decide(_pool("1881.80", as_of=T.format(ms=100)), 0) is Decision.EMIT
    # The page provides the gross total only (net None), spelt differently, as of earlier.
    page = _pool("1881.8", net=None, source=ingress.SOURCE_QUERY, as_of=T.format(ms=50))
    assert deduper.decide(page, 1 * S) is Decision.DUPLICATE
    # A changed column in a page as of later is emitted and updates just that column ...
    newer = _pool("1900", net=None, source=ingress.SOURCE_QUERY, as_of=T.format(ms=200))
    assert deduper.decide(newer, 2 * S) is Decision.EMIT
    state = deduper.state["PoolTotalChanged|p1"]
    assert state.values == _pool("1900", "5316.32").values and state.as_of == T.format(ms=200)
    assert state.fingerprint == _pool("1900", "5316.32").fingerprint
    # ... so the streamed state with that gross and the old net is a duplicate of the merge,
    assert deduper.decide(_pool("1900.00", as_of=T.format(ms=300)), 3 * S) is Decision.DUPLICATE
    # and one with a new net is not.
    assert deduper.decide(_pool("1900", "1", as_of=T.format(ms=300)), 4 * S) is Decision.EMIT


def test_ordering_guard_the_sweep_race_cannot_roll_the_state_back():
    """A sweep starts (as_of 100); a stream message arrives after it (as_of 150); the page
    answers with the state before that message: stale, written as history, not published."""
    deduper = SemanticDeduper(ttl_micros=600 * S)
    assert deduper.decide(_pool("10", as_of=T.format(ms=90)), 0) is Decision.EMIT
    assert deduper.decide(_pool("20", as_of=T.format(ms=150)), 1 * S) is Decision.EMIT
    page = _pool("10", net=None, source=ingress.SOURCE_QUERY, as_of=T.format(ms=100))
    assert deduper.decide(page, 2 * S) is Decision.STALE
    assert deduper.state["PoolTotalChanged|p1"].as_of == T.format(ms=150)  # state unchanged
    assert deduper.decide(_pool("20", as_of=T.format(ms=160)), 3 * S) is Decision.DUPLICATE


def test_ordering_guard_a_replayed_backlog_is_history_only():
    deduper = SemanticDeduper(ttl_micros=600 * S)
    live = [_pool(str(i), as_of=T.format(ms=100 + i)) for i in range(5)]
    assert [deduper.decide(e, i * S) for i, e in enumerate(live)] == [Decision.EMIT] * 5
    replay = [_pool(str(i), as_of=T.format(ms=100 + i)) for i in range(5)]
    decisions = [deduper.decide(e, (10 + i) * S) for i, e in enumerate(replay)]
    # The last state is a duplicate; every older, different one is stale.
    assert decisions == [Decision.STALE] * 4 + [Decision.DUPLICATE]


def test_equal_as_of_is_not_stale_and_missing_as_of_is_never_stale():
    deduper = SemanticDeduper(ttl_micros=600 * S)
    assert deduper.decide(_pool("1", as_of=T.format(ms=5)), 0) is Decision.EMIT
    assert deduper.decide(_pool("2", as_of=T.format(ms=5)), 1) is Decision.EMIT
    assert deduper.decide(_pool("3", as_of=""), 2) is Decision.EMIT
    assert deduper.state["PoolTotalChanged|p1"].as_of == T.format(ms=5)
    assert deduper.decide(_pool("4", as_of=T.format(ms=4)), 3) is Decision.STALE
    # A non-canonical spelling of a newer time is compared as a time, not as text.
    assert deduper.decide(_pool("5", as_of="2026-11-26T15:03:07.004+01:00"), 4) is Decision.STALE
    assert deduper.decide(_pool("6", as_of="2026-11-26T14:03:07.006+00:00"), 5) is Decision.EMIT


@pytest.mark.parametrize("amount", [Decimal("1.50"), "1.50", "1.5", "1.500000000"])
def test_canonical_decimals(amount):
    values = {"gross_amounts": [{"amount": amount, "currency": "GBP"}]}
    assert dedup.canonical_values("PoolTotalChanged", values)["gross_amounts"][0]["amount"] == "1.5"


def test_keys():
    assert entity_key("BetAccepted", ["abc"]) == "BetAccepted|abc"
    assert entity_key("SelectionStatusChanged", ["p", None, "s"]) == "SelectionStatusChanged|p||s"
    shards = {shard_key("dead", f"frame-{i}") for i in range(1000)}
    assert len(shards) == SHARDS and shard_key("dead", "x") == shard_key("dead", "x")
    assert dedup.shard_of("frame-1", 64) == dedup.shard_of("frame-1", 64)
    assert len({dedup.shard_of(f"frame-{i}", 64) for i in range(1000)}) == 64


def test_pruning_is_batched_not_per_element():
    from pipeline.dedup import PRUNE_SLACK, next_prune

    window = 100 * S
    assert next_prune(oldest_micros=0, now_micros=5 * S, lifetime_micros=window) == window
    # Under steady traffic the oldest entry expires every moment: prune a slack later instead.
    assert next_prune(0, 100 * S, window) == 100 * S + window // PRUNE_SLACK
    deduper = TransportDeduper(window)
    prunes = 0
    original = deduper.expire

    def counting(now):
        nonlocal prunes
        prunes += 1
        original(now)

    deduper.expire = counting  # type: ignore[method-assign]  # a spy that counts prunes
    for i in range(5000):  # 500 s of frames every 100 ms: five windows
        assert deduper.seen(f"f{i}", i * S // 10) is False
    assert prunes <= 5 * PRUNE_SLACK + 1
    assert len(deduper) <= 1100  # one window (+ slack) of ids, not all 5000


T1, T2 = T.format(ms=1), T.format(ms=2)


def _ref(as_of: str, **values) -> ReferenceRecord:
    return ReferenceRecord("event", "E1", "reference_events", as_of, values)


def test_reference_unchanged_values_are_duplicates_until_the_ttl_and_changes_emit():
    ttl = 100
    decision, state = dedup.decide_reference(None, _ref(T1, name="R1", status="OPEN"), 0, ttl)
    assert decision is dedup.Decision.EMIT and state is not None
    same = _ref(T2, status="OPEN", name="R1")  # key order and a newer as_of do not matter
    assert dedup.decide_reference(state, same, 50, ttl) == (dedup.Decision.DUPLICATE, state)
    decision, after_ttl = dedup.decide_reference(state, same, 101, ttl)
    assert decision is dedup.Decision.EMIT and after_ttl is not None
    assert after_ttl.emitted_at == 101
    decision, changed = dedup.decide_reference(state, _ref(T2, name="R1", status="CLOSED"), 60, ttl)
    assert decision is dedup.Decision.EMIT and changed is not None
    assert changed.fingerprint != state.fingerprint


def test_reference_ordering_guard_changed_but_older_is_stale():
    _, state = dedup.decide_reference(None, _ref(T2, status="CLOSED"), 0, 100)
    older = _ref(T1, status="OPEN")
    assert dedup.decide_reference(state, older, 10, 100) == (dedup.Decision.STALE, state)


@pytest.mark.parametrize(
    ("message_type", "values"),
    [
        ("PoolTotalChanged", {"product_id": "p10", "gross_amounts": [{"amount": "1.50"}]}),
        ("PoolTotalChanged", {"product_id": "p1", "gross_amounts": [{"amount": "1E+2"}]}),
        ("PoolTotalChanged", {"product_id": "p1", "gross_amounts": [{"amount": "1.5"}]}),
        ("SelectionStatusChanged", {"selection_id": "s10", "status": "ACTIVE"}),
    ],
)
def test_fingerprint_fast_paths_give_the_digest_of_the_canonical_text(message_type, values):
    """The digest is persisted in state: the fast paths must not change it."""
    slow = dedup.fingerprint_text(
        dedup.canonical_json(dedup.canonical_values(message_type, values))
    )
    assert fingerprint(message_type, values) == slow
