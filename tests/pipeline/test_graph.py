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
    "ProcessFrames/CollectRows",
    "ProcessFrames/CollectMessages",
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


MERGE_STEPS = ("ProcessFrames/CollectRows", "ProcessFrames/CollectMessages")
"""Per-key layout only: the sharded layout's semantic step emits every row and message itself."""


@pytest.mark.parametrize(
    ("flags", "sharded"),
    [
        (("--runner=BundleBasedDirectRunner",), True),
        (("--runner=BundleBasedDirectRunner", "--dedup_layout=per_key"), False),
        (DATAFLOW, False),
        ((*DATAFLOW, "--dedup_layout=sharded"), True),
    ],
)
def test_step_labels_are_stable(flags, sharded):
    transforms = _graph(*flags, "--project=tote-prod")
    expected = [s for s in STEPS if not (sharded and s in MERGE_STEPS)]
    top = [label for label in transforms if label in STEPS]
    assert top == expected


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


def _dofns(transforms):
    def fn(transform):  # ``with_outputs`` wraps the ParDo
        return getattr(transform, "fn", None) or transform._do_transform.fn

    return {
        label.rsplit("/", 1)[-1]: type(fn(transforms[label])).__name__
        for label in (
            "ProcessFrames/DropTransportDuplicates",
            "ProcessFrames/DropSemanticDuplicates",
        )
    }


@pytest.mark.parametrize(
    ("flags", "layout"),
    [
        (("--runner=BundleBasedDirectRunner",), "Sharded"),
        (DATAFLOW, "PerKey"),
        (("--runner=BundleBasedDirectRunner", "--dedup_layout=per_key"), "PerKey"),
        ((*DATAFLOW, "--dedup_layout=sharded"), "Sharded"),
    ],
)
def test_dedup_layout_auto_is_per_key_on_dataflow_only(flags, layout):
    assert _dofns(_graph(*flags, "--project=tote-prod")) == {
        "DropTransportDuplicates": f"{layout}TransportDedupFn",
        "DropSemanticDuplicates": f"{layout}SemanticDedupFn",
    }
