"""tote-realtime's streaming pipeline: ingress frames → BigQuery, typed topics, dead letters.

Reads the raw frames the connector publishes (see ``contract.ingress``), parses and validates
them against the message catalog, drops transport and semantic duplicates, and routes:

* every unique frame → ``raw_frames`` (the ingest log);
* each typed message → its typed table and its typed Pub/Sub topic;
* anything unparseable, invalid, unknown or oversized, and any row BigQuery refuses →
  ``dead_letters`` table and the ``tote-dead-letters`` topic, with the reason and the bytes.

Locally (``make run`` or by hand, against the emulators)::

    python -m pipeline --runner BundleBasedDirectRunner --streaming --project tote-local \\
        --dataset tote

On Dataflow (``make dataflow-run`` wraps this; ``--update`` with the same ``--job_name``
replaces a running job in place, which is why step labels never change)::

    python -m pipeline --runner DataflowRunner --project P --region R --streaming \\
        --temp_location gs://B/tmp --setup_file ./setup.py --job_name tote-pipeline

Dataflow-only features are switched on by the runner: ``id_label=frame_id`` on the Pub/Sub read
(Dataflow deduplicates redeliveries on it; the local runners reject it) and, with
``--dedup_layout=auto``, the per-key dedup state layout (see ``pipeline.transforms``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, RetryStrategy, WriteToBigQuery
from apache_beam.io.gcp.pubsub import ReadFromPubSub
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
)

from contract import ingress
from pipeline.options import ToteOptions, dedup_layout, help_text, is_dataflow
from pipeline.transforms import DeadLetterFailedRowsFn, ProcessFrames, PublishFn, table_for_row

__all__ = ["build", "run"]

_log = logging.getLogger(__name__)


def _subscription_path(name: str, project: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/subscriptions/{name}"


def build(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """Add every step of the streaming pipeline to ``pipeline``."""
    tote = options.view_as(ToteOptions)
    project = options.view_as(GoogleCloudOptions).project or "tote-local"
    pubsub_project = tote.pubsub_project or project
    bq_project = tote.bq_project or project

    messages = pipeline | "ReadIngress" >> ReadFromPubSub(
        subscription=_subscription_path(tote.ingress_subscription, pubsub_project),
        with_attributes=True,
        id_label=ingress.ATTR_FRAME_ID if is_dataflow(options) else None,
    )
    processed = messages | "ProcessFrames" >> ProcessFrames(
        tote.transport_dedup_window_s,
        tote.semantic_dedup_ttl_s,
        tote.dedup_shards,
        dedup_layout(options),
    )
    _ = processed.messages | "Publish" >> beam.ParDo(PublishFn(pubsub_project, tote.topic_prefix))
    if tote.bigquery == "off":
        return

    # Dataflow: dynamic sharding (GroupIntoBatches.WithShardedKey) batches inserts per worker.
    # Locally: a few fixed shards, flushed per bundle, so rows are visible within ~0.2 s.
    dataflow = is_dataflow(options)
    result = processed.rows | "WriteBigQuery" >> WriteToBigQuery(
        table=lambda row: f"{bq_project}:{tote.dataset}.{table_for_row(row)}",
        method=WriteToBigQuery.Method.STREAMING_INSERTS,
        create_disposition=BigQueryDisposition.CREATE_NEVER,
        write_disposition=BigQueryDisposition.WRITE_APPEND,
        insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
        with_auto_sharding=dataflow,
        num_streaming_keys=500 if dataflow else 4,
    )
    _ = result.failed_rows_with_errors | "DeadLetterFailedRows" >> beam.ParDo(
        DeadLetterFailedRowsFn(bq_project, pubsub_project, tote.dataset, tote.topic_prefix)
    )


def run(argv: Sequence[str] | None = None) -> beam.runners.runner.PipelineResult:
    """Parse flags, build and start the streaming pipeline; returns the running result."""
    options = PipelineOptions(argv)
    options.view_as(StandardOptions).streaming = True
    if not options.view_as(StandardOptions).runner:
        # Locally the bundle-based direct runner (plain DirectRunner tries to download Prism);
        # the flex template image sets TOTE_DEFAULT_RUNNER=DataflowRunner.
        default = os.environ.get("TOTE_DEFAULT_RUNNER", "BundleBasedDirectRunner")
        options.view_as(StandardOptions).runner = default
    if "direct" in str(options.view_as(StandardOptions).runner).lower():
        from pipeline import local_runner

        local_runner.install()
    pipeline = beam.Pipeline(options=options)
    build(pipeline, options)
    result = pipeline.run()
    _log.info("pipeline started on %s", options.view_as(StandardOptions).runner)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if "-h" in args or "--help" in args:
        print(help_text())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    result = run(args)
    if "dataflow" not in type(result).__name__.lower():
        result.wait_until_finish()  # local runner: run until the process is stopped


if __name__ == "__main__":
    main()
