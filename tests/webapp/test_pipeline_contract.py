"""The pipeline's real output (``pipeline.records``) through the web app: parsed, named, valid.

Query pages (products and events, with their reference records) and a subscription frame go
through ``pipeline.core.process_frame`` exactly as in Dataflow; every typed and reference message
it would publish is fed to one bus.  So a change of the pipeline's message shapes that the web
app (or its published JSON Schema) does not follow fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from pipeline import records
from pipeline.core import process_frame
from testsupport import examples
from testsupport import query_examples as q
from webapp import schema
from webapp.bus import EventBus
from webapp.events import parse_message
from webapp.filters import EventFilter

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema"


def _published(frame: records.Frame) -> list[tuple[bytes, dict[str, str], str]]:
    out = []
    for event in frame.events:
        topic, data, attrs = records.typed_message(frame, event)
        out.append((data, attrs, topic))
    for record in frame.reference:
        topic, data, attrs = records.reference_message(frame, record)
        out.append((data, attrs, topic))
    return out


def test_query_pages_and_stream_frames_name_the_board() -> None:
    messages = []
    for operation, body in (("events", q.events_page()), ("products", q.products_page())):
        frame = process_frame(*q.query_page_message(body, operation))
        assert frame.dead_letter is None, frame.dead_letter
        messages += _published(frame)
    stream = process_frame(
        *examples.ingress_message(
            examples.frame("PoolTotalChanged", examples.example_message("PoolTotalChanged"))
        )
    )
    messages += _published(stream)
    kinds = {json.loads(m[0]).get("kind") for m in messages if m[2].endswith("reference")}
    assert {"event", "product", "selection", "competitor"} <= kinds
    bus = EventBus(history_from_ms=0)
    validators = {
        s: jsonschema.Draft202012Validator(json.loads((SCHEMA / f"{s}.json").read_text()))
        for s in schema.streams()
    }
    for data, attributes, topic in messages:
        bus.publish(parse_message(data, attributes, topic, message_id="m", published_at=1.0))
    released = bus.connect(EventFilter(), after=0).take(10_000)
    assert len(released) == len(messages)  # nothing rejected, nothing merged
    for event in released:
        validators[event.stream].validate(json.loads(event.body))
    pool = [e for e in released if e.stream == "pool-total"][-1]
    context = json.loads(pool.body)["context"]
    assert context["event_id"] == examples.EVENT_ID  # joined to its race by the product
    assert context["label"].startswith("Newcastle 19:25")  # BST/GMT: 31 Jan is GMT
    race = EventFilter.from_query({"event_id": [examples.EVENT_ID], "types": ["pool-total"]})
    assert race.matches(pool)
