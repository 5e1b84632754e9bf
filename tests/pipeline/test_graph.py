"""The pipeline graph: stable step labels (the Dataflow update contract) and runner-specific
settings (id_label on Dataflow only, where the local runners reject it)."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import ReadFromPubSub
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.main import build

STEPS = [
    "ReadIngress",
    "ProcessFrames",
    "ProcessFrames/ParseFrames",
    "ProcessFrames/DropTransportDuplicates",
    "ProcessFrames/DropSemanticDuplicates",
    "Publish",
    "WriteBigQuery",
    "DeadLetterFailedRows",
]


def _graph(*flags: str):
    options = PipelineOptions(list(flags))
    # The graph is built from ``options``; the Pipeline object itself stays local, so building a
    # Dataflow graph needs no credentials or network.
    pipeline = beam.Pipeline(
        options=PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
    )
    build(pipeline, options)
    transforms = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            transforms[node.full_label] = node.transform

        def visit_transform(self, node):
            transforms[node.full_label] = node.transform

    pipeline.visit(Visitor())
    return transforms


DATAFLOW = (
    "--runner=DataflowRunner",
    "--project=tote-prod",
    "--region=europe-west2",
    "--temp_location=gs://tote-bucket/tmp",
    "--streaming",
)


@pytest.mark.parametrize("flags", [("--runner=BundleBasedDirectRunner",), DATAFLOW])
def test_step_labels_are_stable(flags):
    transforms = _graph(*flags, "--project=tote-prod")
    top = [label for label in transforms if label in STEPS]
    assert top == STEPS


def test_id_label_only_on_dataflow():
    local = _graph("--runner=BundleBasedDirectRunner", "--project=tote-prod")
    cloud = _graph(*DATAFLOW)
    read_local = next(t for t in local.values() if isinstance(t, ReadFromPubSub))
    read_cloud = next(t for t in cloud.values() if isinstance(t, ReadFromPubSub))
    assert read_local._source.id_label is None
    assert read_cloud._source.id_label == "frame_id"
    assert read_cloud._source.full_subscription == (
        "projects/tote-prod/subscriptions/tote-ingress-pipeline"
    )


def test_bigquery_can_be_switched_off():
    transforms = _graph("--runner=BundleBasedDirectRunner", "--project=tote-prod", "--bigquery=off")
    assert "WriteBigQuery" not in transforms and "Publish" in transforms
