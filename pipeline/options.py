"""Command-line options of the streaming pipeline (``python -m pipeline --help``).

Beam's own options (``--runner``, ``--project``, ``--region``, ``--temp_location``,
``--setup_file``, ``--job_name``, ``--update``, ...) pass straight through to ``PipelineOptions``.
The same flags serve the local run (BundleBasedDirectRunner + emulators) and Dataflow; the
Dataflow flex template exposes them as parameters.
"""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from contract import catalog

__all__ = ["LAYOUTS", "ToteOptions", "dedup_layout", "help_text", "is_dataflow"]

BEAM_OPTIONS_NOTE = (
    "Beam's own options pass straight through to PipelineOptions: --runner (default here: "
    "BundleBasedDirectRunner, DataflowRunner in the flex template), --project, --region, "
    "--temp_location, --setup_file, --job_name, --update, --streaming (always on), ..."
)

LAYOUTS = ("per_key", "sharded")
"""The dedup state layouts (``pipeline.transforms``)."""


def is_dataflow(options: PipelineOptions) -> bool:
    """True when the pipeline runs on Dataflow (where Dataflow-only features switch on)."""
    runner = options.view_as(StandardOptions).runner or ""
    return "dataflow" in str(runner).lower()


def dedup_layout(options: PipelineOptions) -> str:
    """``--dedup_layout`` resolved: ``auto`` → ``per_key`` on Dataflow, else ``sharded``."""
    layout = options.view_as(ToteOptions).dedup_layout
    if layout == "auto":
        return "per_key" if is_dataflow(options) else "sharded"
    return layout


class ToteOptions(PipelineOptions):
    """tote-realtime's own pipeline options."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--ingress_subscription",
            default=catalog.INGRESS_SUBSCRIPTION,
            help="Ingress subscription: a name in --pubsub_project or a full "
            "projects/P/subscriptions/S path.",
        )
        parser.add_argument(
            "--pubsub_project",
            default=None,
            help="Project of the ingress subscription and output topics (default: --project).",
        )
        parser.add_argument(
            "--bq_project",
            default=None,
            help="Project of the BigQuery dataset (default: --project).",
        )
        parser.add_argument("--dataset", default=catalog.DATASET, help="BigQuery dataset.")
        parser.add_argument(
            "--topic_prefix",
            default="",
            help="Prefix for the typed and dead-letter topic names (e.g. 'staging-').",
        )
        parser.add_argument(
            "--transport_dedup_window_s",
            type=int,
            default=600,
            help="How long a frame_id is remembered to drop redeliveries (seconds).",
        )
        parser.add_argument(
            "--semantic_dedup_ttl_s",
            type=int,
            default=3600,
            help="How long unchanged state for an entity is suppressed after it was emitted "
            "(seconds); after that an unchanged re-send passes again.",
        )
        parser.add_argument(
            "--dedup_shards",
            type=int,
            default=64,
            help="Keys of each dedup step in the sharded layout: state is sharded by a hash of "
            "the frame id / entity, so the key count stays fixed.",
        )
        parser.add_argument(
            "--dedup_layout",
            default="auto",
            choices=("auto", *LAYOUTS),
            help="Dedup state layout: per_key (a small state and timer per frame id / entity; "
            "the cost per element does not grow with entities) or sharded (a dict per shard; "
            "fewer keys, faster on the local direct runner). auto = per_key on Dataflow, "
            "sharded elsewhere.",
        )
        parser.add_argument(
            "--bigquery",
            default="on",
            choices=("on", "off"),
            help="Write to BigQuery ('off' publishes to topics only, e.g. for load tests).",
        )


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` unless the help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        return f"{text} (default: %(default)r)"


def help_text(prog: str = "python -m pipeline") -> str:
    """``--help`` of the pipeline: every :class:`ToteOptions` flag with its default.

    Beam's ``PipelineOptions`` parses leniently (unknown flags pass through to the runner), so
    its own ``--help`` only describes an empty parser; this one is built from the same
    ``_add_argparse_args``, so it can never disagree with what the pipeline reads.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="tote-realtime's streaming pipeline: ingress frames to BigQuery, typed "
        "topics and dead letters.",
        epilog=BEAM_OPTIONS_NOTE,
        formatter_class=_DefaultsFormatter,
    )
    ToteOptions._add_argparse_args(parser)
    return parser.format_help()
