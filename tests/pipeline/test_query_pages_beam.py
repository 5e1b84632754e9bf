"""A sweep's query pages through the Beam steps (``ProcessFrames``): every output they feed."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from contract import catalog
from pipeline.transforms import NAMESPACE, ProcessFrames, table_for_row
from tests.pipeline.beam_helpers import T0, streaming_options
from testsupport import query_examples as q

OTHER_EVENT = "HORSERACING-NEWCASTLE-GB-2026-01-31-2000"


def page_message(body: dict[str, Any] | bytes, operation: str, frame_id: str) -> PubsubMessage:
    data, attrs = q.query_page_message(body, operation, frame_id=frame_id)
    return PubsubMessage(data, attrs, message_id=f"m-{frame_id}")


def test_query_pages_feed_raw_typed_reference_and_dead_letter_outputs():
    # A partial response: node 1's result failed, so node 1 writes typed rows but no reference.
    error = {"message": "results service timed out", "path": ["events", "nodes", 1, "result"]}
    partial = q.events_page(q.event_node(), q.event_node(OTHER_EVENT), errors=[error])
    elements = [
        page_message(q.products_page(), "products", "products-1"),
        page_message(partial, "events", "events-1"),
        page_message(b"<html>gateway timeout</html>", "products", "products-2"),
    ]
    stream = (
        TestStream()
        .advance_watermark_to(T0)
        .add_elements([TimestampedValue(e, T0 + i) for i, e in enumerate(elements)])
        .advance_watermark_to_infinity()
    )
    pipeline = beam.Pipeline(options=streaming_options())
    out = pipeline | stream | ProcessFrames(60, 120)

    tables = out.rows | "tables" >> beam.Map(lambda r: (table_for_row(r), r["frame_id"]))
    assert_that(
        tables,
        equal_to(
            [
                element
                for element, count in [
                    ((catalog.RAW_TABLE, "products-1"), 1),
                    ((catalog.RAW_TABLE, "events-1"), 1),
                    ((catalog.RAW_TABLE, "products-2"), 1),
                    (("product_status_changed", "products-1"), 1),
                    (("pool_total_changed", "products-1"), 1),
                    (("selection_status_changed", "products-1"), 2),
                    (("reference_products", "products-1"), 1),
                    (("reference_legs", "products-1"), 1),
                    (("reference_selections", "products-1"), 2),
                    (("event_status_changed", "events-1"), 2),
                    (("competitor_status_changed", "events-1"), 4),
                    (("reference_events", "events-1"), 1),
                    (("reference_competitors", "events-1"), 2),
                    ((catalog.DEAD_LETTER_TABLE, "products-2"), 1),
                ]
                for _ in range(count)
            ]
        ),
        label="rows per table",
    )
    topics = out.messages | "topics" >> beam.Map(lambda m: m[0])
    assert_that(
        topics,
        equal_to(
            [
                topic
                for topic, count in [
                    ("tote-product-status-changed", 1),
                    ("tote-pool-total-changed", 1),
                    ("tote-selection-status-changed", 2),
                    ("tote-event-status-changed", 2),
                    ("tote-competitor-status-changed", 4),
                    (catalog.REFERENCE_TOPIC, 7),
                    (catalog.DEAD_LETTER_TOPIC, 1),
                ]
                for _ in range(count)
            ]
        ),
        label="messages per topic",
    )
    result = pipeline.run()
    result.wait_until_finish()
    found = result.metrics().query(
        MetricsFilter().with_namespace(NAMESPACE).with_name("query_page_graphql_errors")
    )
    assert sum(c.committed or 0 for c in found["counters"]) == 1
    skipped = result.metrics().query(
        MetricsFilter().with_namespace(NAMESPACE).with_name("query_page_skipped_nodes")
    )
    assert sum(c.committed or 0 for c in skipped["counters"]) == 1  # node 1's reference


@pytest.mark.parametrize("layout", ["sharded", "per_key"])
def test_unchanged_reference_data_is_written_and_published_once_per_ttl(layout):
    """A sweep re-sending the same page: reference history rows and ``tote-reference`` messages
    come from the first page only, and again once the TTL (120 s) has passed; the raw table keeps
    every page."""
    page = q.products_page()
    stream = (
        TestStream()
        .advance_watermark_to(T0)
        .add_elements([TimestampedValue(page_message(page, "products", "sweep-1"), T0)])
        .advance_watermark_to(T0 + 10)
        .add_elements([TimestampedValue(page_message(page, "products", "sweep-2"), T0 + 10)])
        .advance_watermark_to(T0 + 300)
        .add_elements([TimestampedValue(page_message(page, "products", "sweep-3"), T0 + 300)])
        .advance_watermark_to_infinity()
    )
    pipeline = beam.Pipeline(options=streaming_options())
    out = pipeline | stream | ProcessFrames(60, 120, shards=8, layout=layout)
    reference = out.rows | "reference" >> beam.Filter(lambda r: "reference_kind" in r)
    assert_that(
        reference | "ref ids" >> beam.Map(lambda r: (r["reference_kind"], r["frame_id"])),
        equal_to(
            [
                (kind, frame)
                for frame in ("sweep-1", "sweep-3")
                for kind in ("product", "leg", "selection", "selection")
            ]
        ),
        label="reference rows",
    )
    raw = out.rows | "raw" >> beam.Filter(lambda r: table_for_row(r) == catalog.RAW_TABLE)
    assert_that(
        raw | "raw ids" >> beam.Map(lambda r: r["frame_id"]),
        equal_to(["sweep-1", "sweep-2", "sweep-3"]),
        label="raw rows",
    )
    published = out.messages | "ref msgs" >> beam.Filter(lambda m: m[0] == catalog.REFERENCE_TOPIC)
    assert_that(
        published | "msg frames" >> beam.Map(lambda m: m[2]["frame_id"]),
        equal_to(["sweep-1"] * 4 + ["sweep-3"] * 4),
        label="reference messages",
    )
    pipeline.run().wait_until_finish()
