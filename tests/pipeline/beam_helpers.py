"""Helpers for TestStream tests of the pipeline's Beam steps."""

from __future__ import annotations

from typing import Any

from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from testsupport import examples

T0 = 1_700_000_000  # element time origin (seconds)


def streaming_options() -> PipelineOptions:
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    return options


def message(name: str, frame_id: str, message: dict[str, Any] | None = None, **kw) -> PubsubMessage:
    data, attrs = examples.ingress_message(examples.frame(name, message), frame_id=frame_id, **kw)
    return PubsubMessage(data, attrs, message_id=f"m-{frame_id}")


def raw(data: bytes, frame_id: str = "f-raw") -> PubsubMessage:
    _, attrs = examples.ingress_message(b"", frame_id=frame_id)
    return PubsubMessage(data, attrs, message_id=f"m-{frame_id}")
