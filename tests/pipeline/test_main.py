"""The pipeline program end to end on the real Pub/Sub emulator (BundleBasedDirectRunner).

Frames of every type, transport and semantic duplicates and malformed frames go into the
ingress topic; exactly the right messages must come out of each typed topic and the dead-letter
topic.  (The BigQuery path is covered with the BigQuery emulator in ``test_bigquery_path``.)
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from google.cloud import pubsub_v1

from contract import catalog
from devstack.pipeline_process import start_pipeline, wait_until_flowing
from devstack.provision import provision_pubsub
from tests.catalog_types import message_type
from tests.pipeline.pubsub_helpers import TopicReader
from testsupport import examples

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture
def running_pipeline(pubsub_emulator, project, logs_dir):
    provision_pubsub(project, "it-ingress")
    proc = start_pipeline(
        project,
        logs_dir / "pipeline-it.log",
        dict(os.environ),
        subscription="it-ingress",
        bigquery=False,
    )
    try:
        wait_until_flowing(project, proc)
        yield proc
    finally:
        proc.stop()


def _publish(project, frames):
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(project, catalog.INGRESS_TOPIC)
    futures = [publisher.publish(topic, data, **attrs) for data, attrs in frames]
    for f in futures:
        f.result(30)


def test_every_type_reaches_its_topic_once_and_bad_frames_reach_dead_letters(
    running_pipeline, project
):
    reader = TopicReader(project, "it")
    typed = [m for m in catalog.CATALOG if m.table]
    frames = []
    for i, spec in enumerate(typed):
        frames.append(examples.ingress_message(examples.frame(spec.name), frame_id=f"t-{i}"))
    # A transport duplicate (same frame id: a connector retry / redelivery) ...
    frames.append(frames[0])
    # ... and a semantic one (Tote re-sending unchanged pool totals on a new frame).
    frames.append(examples.ingress_message(examples.frame(typed[0].name), frame_id="resent"))
    # Raw-only, malformed, invalid and unknown frames.
    frames.append(examples.ingress_message(examples.frame("EventUpdated"), frame_id="raw-only"))
    frames.append(examples.ingress_message(b"{not json", frame_id="bad-json"))
    frames.append(
        examples.ingress_message(
            examples.frame("ProductStatusChanged", {"status": "OPEN"}), frame_id="invalid"
        )
    )
    frames.append(
        examples.ingress_message(
            b'{"type":"next","id":"9","payload":{"data":{"onBrandNew":{}}}}', frame_id="unknown"
        )
    )
    _publish(project, frames)

    expected_typed = len(typed)
    received = reader.collect(expected_typed + 3)
    reader.close()

    by_topic = Counter(r.topic for r in received)
    expected_topics = Counter(spec.topic for spec in typed)
    expected_topics[catalog.DEAD_LETTER_TOPIC] = 3
    assert by_topic == expected_topics

    typed_received = [r for r in received if r.topic != catalog.DEAD_LETTER_TOPIC]
    assert sorted(r.attributes["frame_id"] for r in typed_received) == sorted(
        f"t-{i}" for i in range(len(typed))
    )
    for r in typed_received:
        body = r.json
        spec = message_type(body["message_type"])
        assert r.topic == spec.topic and r.attributes["message_type"] == spec.name
        for col in spec.attribute_columns:
            assert r.attributes[col] == body["data"][col]
        assert body["payload"] == examples.example_message(spec.name)

    dead = {r.attributes["frame_id"]: r for r in received if r.topic == catalog.DEAD_LETTER_TOPIC}
    assert {k: v.attributes["stage"] for k, v in dead.items()} == {
        "bad-json": "parse",
        "invalid": "validate",
        "unknown": "unknown_type",
    }
    assert "missing required field productId" in dead["invalid"].json["reason"]
    assert dead["bad-json"].json["data_text"] == "{not json"
    unknown = dead["unknown"].json
    assert '"frame_id":"unknown"' in unknown["attributes"]  # original attributes kept
    assert unknown["received_at"] and unknown["failed_at"] and unknown["stack_trace"]
