"""TestStream tests of the Beam steps: both dedup kinds (with state expiry), the ordering guard,
routing, and the two state layouts giving the same results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from contract import catalog
from pipeline.transforms import NAMESPACE, ProcessFrames, table_for_row
from tests.catalog_types import message_type
from tests.pipeline.beam_helpers import T0, message, raw, streaming_options
from testsupport import examples

WINDOW_S = 60
TTL_S = 120


def _stream(*batches):
    """batches: (watermark, [(element, time), ...]) in order."""
    stream = TestStream()
    for watermark, elements in batches:
        stream = stream.advance_watermark_to(watermark)
        if elements:
            stream = stream.add_elements([TimestampedValue(e, t) for e, t in elements])
    return stream.advance_watermark_to_infinity()


def _run(stream, check, layout="sharded"):
    pipeline = beam.Pipeline(options=streaming_options())
    out = pipeline | stream | ProcessFrames(WINDOW_S, TTL_S, shards=8, layout=layout)
    check(out)
    result = pipeline.run()
    result.wait_until_finish()
    return result


def _counter(result, name):
    """A committed counter. Beam's direct runner only reports the metrics of a TestStream's
    first batch, so counters are asserted in single-batch streams only."""
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE).with_name(name))
    return sum(c.committed or 0 for c in found["counters"])


def _ids(pcoll, label):
    return pcoll | label >> beam.Map(lambda row: row["frame_id"])


def _rows_of(out, table, label):
    """The rows ``ProcessFrames`` produced for one table."""
    return out.rows | label >> beam.Filter(lambda row: table_for_row(row) == table)


def _typed_rows(out, label="typed rows"):
    return out.rows | label >> beam.Filter(lambda row: "payload" in row)


def _messages(out, dead: bool, label):
    return out.messages | label >> beam.Filter(
        lambda m: (m[0] == catalog.DEAD_LETTER_TOPIC) == dead
    )


def _status(status):
    return examples.example_message("ProductStatusChanged", status=status)


def test_transport_duplicates_are_dropped_everywhere_and_counted():
    msg = message("ProductStatusChanged", "f1")
    stream = _stream(
        (T0, [(msg, T0), (msg, T0 + 1), (message("ProductStatusChanged", "f1"), T0 + 2)])
    )

    def check(out):
        assert_that(
            _ids(_rows_of(out, catalog.RAW_TABLE, "only raw"), "raw"),
            equal_to(["f1"]),
            label="raw once",
        )
        assert_that(_ids(_typed_rows(out), "typed"), equal_to(["f1"]), label="typed once")

    result = _run(stream, check)
    assert _counter(result, "dropped_transport_duplicate") == 2
    assert _counter(result, "frames_in") == 3


@pytest.mark.parametrize("layout", ["sharded", "per_key"])
def test_transport_window_expires_and_state_is_cleared(layout):
    """After the window, the timer prunes the ids: the same frame id counts as new again."""
    msg = message("ProductStatusChanged", "f1", _status("OPEN"))
    later = message("ProductStatusChanged", "f1", _status("OPEN"))
    stream = _stream(
        (T0, [(msg, T0)]),
        (T0 + WINDOW_S + 5, [(later, T0 + WINDOW_S + 5)]),
    )

    def check(out):
        assert_that(
            _ids(_rows_of(out, catalog.RAW_TABLE, "only raw"), "raw"),
            equal_to(["f1", "f1"]),
            label="raw twice",
        )

    _run(stream, check, layout)


def test_semantic_duplicates_are_kept_raw_but_not_typed_and_a_b_a_emits_three():
    frames = [
        ("s1", "OPEN"),
        ("s2", "OPEN"),  # re-sent unchanged state: semantic duplicate
        ("s3", "CLOSED"),
        ("s4", "OPEN"),  # back to an earlier value: passes
        ("s5", "OPEN"),  # unchanged again: dropped
    ]
    stream = _stream(
        (
            T0,
            [
                (message("ProductStatusChanged", fid, _status(s)), T0 + i)
                for i, (fid, s) in enumerate(frames)
            ],
        )
    )

    def check(out):
        assert_that(
            _ids(_rows_of(out, catalog.RAW_TABLE, "only raw"), "raw"),
            equal_to([f for f, _ in frames]),
            label="raw all",
        )
        assert_that(_ids(_typed_rows(out), "typed"), equal_to(["s1", "s3", "s4"]), label="typed")

    result = _run(stream, check)
    assert _counter(result, "dropped_semantic_duplicate") == 2
    assert _counter(result, "dropped_semantic_duplicate_ProductStatusChanged") == 2


@pytest.mark.parametrize("layout", ["sharded", "per_key"])
def test_semantic_state_is_cleared_by_its_timer_after_the_ttl(layout):
    """A late re-send (element time within the TTL of the emission) arriving after the
    watermark passed the TTL finds no state: the timer cleared it, so it passes."""
    stream = _stream(
        (T0, [(message("ProductStatusChanged", "a", _status("OPEN")), T0)]),
        (T0 + 10, [(message("ProductStatusChanged", "b", _status("OPEN")), T0 + 10)]),
        (T0 + TTL_S + 30, [(message("ProductStatusChanged", "c", _status("OPEN")), T0 + 20)]),
    )

    def check(out):
        # b is a duplicate (state present); c, with the same time distance, is not (state gone).
        assert_that(_ids(_typed_rows(out), "typed"), equal_to(["a", "c"]), label="typed")

    _run(stream, check, layout)


def test_entities_are_independent():
    other = _status("OPEN") | {"productId": "99999999-0000-4000-8000-000000000000"}
    stream = _stream(
        (
            T0,
            [
                (message("ProductStatusChanged", "a", _status("OPEN")), T0),
                (message("ProductStatusChanged", "b", other), T0 + 1),
                (message("PoolTotalChanged", "c"), T0 + 2),
            ],
        )
    )

    def check(out):
        assert_that(_ids(_typed_rows(out), "typed"), equal_to(["a", "b", "c"]), label="typed")

    _run(stream, check)


def test_routing_dead_letters_raw_only_and_every_type():
    typed = [m for m in catalog.CATALOG if m.table]
    elements = [(message(m.name, f"t{i}"), T0 + i) for i, m in enumerate(typed)]
    elements += [
        (message("EventUpdated", "raw-only"), T0 + 50),
        (raw(b"{broken", "bad-json"), T0 + 51),
        (raw(examples.frame("ProductStatusChanged", {"status": "OPEN"}), "invalid"), T0 + 52),
    ]
    stream = _stream((T0, elements))

    def check(out):
        assert_that(
            _typed_rows(out) | "types" >> beam.Map(lambda r: r["message_type"]),
            equal_to([m.name for m in typed]),
            label="every typed type",
        )
        assert_that(
            _rows_of(out, catalog.DEAD_LETTER_TABLE, "only dead")
            | "dead" >> beam.Map(lambda r: (r["frame_id"], r["stage"])),
            equal_to([("bad-json", "parse"), ("invalid", "validate")]),
            label="dead letters",
        )
        assert_that(
            _rows_of(out, catalog.RAW_TABLE, "only raw")
            | "raw types" >> beam.Map(lambda r: (r["frame_id"], r["message_type"])),
            equal_to(
                [(f"t{i}", m.name) for i, m in enumerate(typed)]
                + [
                    ("raw-only", "EventUpdated"),
                    ("bad-json", None),
                    ("invalid", "ProductStatusChanged"),
                ]
            ),
            label="raw rows",
        )
        assert_that(
            _messages(out, False, "only typed")
            | "topics" >> beam.Map(lambda m: (m[0], m[2]["frame_id"])),
            equal_to([(m.topic, f"t{i}") for i, m in enumerate(typed)]),
            label="typed messages",
        )
        assert_that(
            _messages(out, True, "only dl") | "dl" >> beam.Map(lambda m: (m[0], m[2]["frame_id"])),
            equal_to(
                [(catalog.DEAD_LETTER_TOPIC, "bad-json"), (catalog.DEAD_LETTER_TOPIC, "invalid")]
            ),
            label="dead-letter messages",
        )

    result = _run(stream, check)
    assert _counter(result, "invalid_parse") == 1
    assert _counter(result, "invalid_validate") == 1
    assert _counter(result, "emitted_BetAccepted") == 1


R0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # received_at origin (= as_of of stream frames)


def _pool(frame_id, received_s, data=None):
    data = data or examples.frame("PoolTotalChanged")
    data, attrs = examples.ingress_message(
        data, frame_id=frame_id, received_at=R0 + timedelta(seconds=received_s)
    )
    return PubsubMessage(data, attrs, message_id=f"m-{frame_id}")


def _pool_gross(amount):
    message = examples.example_message("PoolTotalChanged")
    message["total"]["grossAmounts"][0]["decimalAmount"] = amount
    return examples.frame("PoolTotalChanged", message)


@pytest.mark.parametrize("layout", ["sharded", "per_key"])
def test_both_layouts_give_the_same_results(layout):
    """One scenario, run on each layout with the same expectations: a corrupted redelivery (same
    frame id, other bytes) is a transport duplicate; a re-send spelling a decimal differently is
    a semantic duplicate; an older state arriving after a newer one is stored but not published;
    A → B → A emits."""
    corrupted = PubsubMessage(b"{garbage", _pool("a1", 1).attributes, message_id="m-x")
    resent = examples.frame("PoolTotalChanged").replace(b"6645.4", b"6645.40")
    assert resent != examples.frame("PoolTotalChanged")
    stream = _stream(
        (T0, [(_pool("a1", 1), T0), (corrupted, T0 + 1), (raw(b"{broken", "d1"), T0 + 1)]),
        (
            T0 + 2,
            [(_pool("a2", 2, resent), T0 + 2), (message("ProductStatusChanged", "s1"), T0 + 2)],
        ),
        (T0 + 3, [(_pool("a3", 3, _pool_gross(7000)), T0 + 3)]),
        (T0 + 4, [(_pool("a4", 2.5), T0 + 4)]),  # received before a3: stale
        (T0 + 5, [(_pool("a5", 4), T0 + 5)]),  # back to the first state, newer: emitted
    )

    def check(out):
        assert_that(
            _ids(_rows_of(out, catalog.RAW_TABLE, "only raw"), "raw"),
            equal_to(["a1", "d1", "a2", "s1", "a3", "a4", "a5"]),
            label="raw once per frame id",
        )
        assert_that(
            _ids(_typed_rows(out), "typed"),
            equal_to(["a1", "s1", "a3", "a4", "a5"]),
            label="typed rows include the stale one",
        )
        assert_that(
            _messages(out, False, "only typed")
            | "typed ids" >> beam.Map(lambda m: m[2]["frame_id"]),
            equal_to(["a1", "s1", "a3", "a5"]),
            label="the stale one is not published",
        )
        assert_that(
            _messages(out, True, "only dl") | "dl ids" >> beam.Map(lambda m: m[2]["frame_id"]),
            equal_to(["d1"]),
            label="dead letters",
        )

    _run(stream, check, layout)


def test_stale_events_are_counted_per_type():
    newer, older = _pool("n", 10, _pool_gross(1)), _pool("o", 5, _pool_gross(2))
    stream = _stream((T0, [(newer, T0), (older, T0 + 1)]))

    def check(out):
        assert_that(_ids(_typed_rows(out), "typed"), equal_to(["n", "o"]), label="typed")

    result = _run(stream, check, "per_key")
    assert _counter(result, "stale_PoolTotalChanged") == 1
    assert _counter(result, "emitted_PoolTotalChanged") == 1


def test_a_sweep_page_answered_before_a_newer_streamed_total_does_not_roll_it_back():
    """The race: a sweep's request starts (R+1); a streamed pool total arrives after it (R+2);
    then the page (received R+3) answers with the older total: stored as history, not
    published.  A later page equal to the streamed state is a semantic duplicate."""
    from testsupport import query_examples as q

    def page(frame_id, started_s, gross):
        data, attrs = q.query_page_message(
            q.products_page(q.product_node(gross=gross)),
            "products",
            frame_id=frame_id,
            request_started_at=R0 + timedelta(seconds=started_s),
            received_at=R0 + timedelta(seconds=started_s + 1),
        )
        return PubsubMessage(data, attrs, message_id=f"m-{frame_id}")

    stream = _stream(
        (T0, [(_pool("s1", 0), T0)]),
        (T0 + 1, [(_pool("s2", 2, _pool_gross(7000)), T0 + 1)]),
        (T0 + 2, [(page("p-old", 1, 6645.4), T0 + 2)]),
        (T0 + 3, [(page("p-same", 4, 7000), T0 + 3)]),
    )
    pool_table = message_type("PoolTotalChanged").table
    pool_topic = message_type("PoolTotalChanged").topic

    def check(out):
        assert_that(
            _ids(_rows_of(out, pool_table, "pool rows"), "pool ids"),
            equal_to(["s1", "s2", "p-old"]),
            label="the stale page total is history",
        )
        assert_that(
            out.messages
            | "pool topic" >> beam.Filter(lambda m: m[0] == pool_topic)
            | "pool msg ids" >> beam.Map(lambda m: m[2]["frame_id"]),
            equal_to(["s1", "s2"]),
            label="but never published",
        )

    _run(stream, check, "per_key")
