"""TestStream tests of the Beam steps: both dedup kinds (with state expiry) and routing."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from contract import catalog
from pipeline.transforms import NAMESPACE, ProcessFrames, table_for_row
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


def _run(stream, check):
    pipeline = beam.Pipeline(options=streaming_options())
    out = pipeline | stream | ProcessFrames(WINDOW_S, TTL_S)
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


def test_transport_window_expires_and_state_is_cleared():
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

    _run(stream, check)


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


def test_semantic_state_is_cleared_by_its_timer_after_the_ttl():
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

    _run(stream, check)


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
