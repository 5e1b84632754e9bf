"""The whole pipeline translated for Dataflow, offline: what only the Dataflow runner sees.

Beam's ``--dry_run=True`` makes the DataflowRunner build the job (runner API proto, job
description) and stop before contacting the service, so no project, credentials or network are
needed — only a well-formed project, region and ``gs://`` temp location (otherwise Beam tries to
create a default bucket).  The launch flags are the ones ``make dataflow-run`` gives the flex
template (each gcloud flag mapped to the Beam option the launcher passes), so a flag added to
the Makefile without a mapping here fails the test.
"""

from __future__ import annotations

import pytest
from apache_beam.coders import StrUtf8Coder, TupleCoder
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.dataflow.internal import apiclient
from apache_beam.runners.pipeline_context import PipelineContext

from pipeline.coders import EntityStateCoder, FrameCoder
from pipeline.main import run
from tests.deploy.makefile import PROJECT, REGION, make_dry_run

pytestmark = pytest.mark.slow  # one translation, a few seconds

GCLOUD_TO_BEAM = {
    "--project": "--project",
    "--region": "--region",
    "--staging-location": "--staging_location",
    "--temp-location": "--temp_location",
    "--enable-streaming-engine": "--enable_streaming_engine",
    "--max-workers": "--max_num_workers",
    "--worker-machine-type": "--machine_type",
    "--service-account-email": "--service_account_email",
}
LAUNCHER_ONLY = {"--template-file-gcs-location"}  # read by gcloud, not by the pipeline


def _launch_argv() -> list[str]:
    """``make dataflow-run``'s flags as the pipeline program receives them."""
    (line,) = [c for c in make_dry_run("dataflow-run").splitlines() if c.startswith("gcloud")]
    words = line.split()
    assert words[:4] == ["gcloud", "dataflow", "flex-template", "run"]
    argv = ["--runner=DataflowRunner", "--dry_run=True", f"--job_name={words[4]}"]
    for token in words[5:]:
        name, _, value = token.partition("=")
        if name == "--parameters":
            argv += [f"--{param}" for param in value.split(",")]
        elif name in GCLOUD_TO_BEAM:
            argv.append(f"{GCLOUD_TO_BEAM[name]}={value}" if value else GCLOUD_TO_BEAM[name])
        else:
            assert name in LAUNCHER_ONLY, f"unmapped flex-template flag {name}"
    return argv


@pytest.fixture(scope="module")
def job():
    result = run(_launch_argv())
    return result.job  # type: ignore[attr-defined]  # the dry run sets it on a plain PipelineResult


def _transforms(job) -> dict[str, beam_runner_api_pb2.PTransform]:
    return {t.unique_name: t for t in job.proto_pipeline.components.transforms.values()}


def test_step_labels_reach_the_dataflow_job(job):
    names = set(_transforms(job))
    for label in (
        "ReadIngress",
        "ProcessFrames/ParseFrames",
        "ProcessFrames/DropTransportDuplicates",
        "ProcessFrames/DropSemanticDuplicates",
        "ProcessFrames/CollectRows",
        "ProcessFrames/CollectMessages",
        "Publish",
        "WriteBigQuery",
        "DeadLetterFailedRows",
    ):
        assert label in names


def test_pubsub_read_deduplicates_on_frame_id(job):
    (read,) = [
        t for t in _transforms(job).values() if t.spec.urn == "beam:transform:pubsub_read:v1"
    ]
    payload = beam_runner_api_pb2.PubSubReadPayload.FromString(read.spec.payload)
    assert payload.id_attribute == "frame_id" and payload.with_attributes
    assert payload.subscription == f"projects/{PROJECT}/subscriptions/tote-ingress-pipeline"


def test_dedup_steps_are_per_key_stateful_with_versioned_coders(job):
    components = job.proto_pipeline.components
    context = PipelineContext(components)
    specs = {}
    for name, transform in _transforms(job).items():
        if transform.spec.urn != common_urns.primitives.PAR_DO.urn:
            continue
        if not name.startswith("ProcessFrames/Drop"):
            continue
        payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
        state = {
            k: type(context.coders.get_by_id(v.read_modify_write_spec.coder_id)).__name__
            for k, v in payload.state_specs.items()
        }
        (pcoll,) = transform.inputs.values()
        kv = context.coders.get_by_id(components.pcollections[pcoll].coder_id)
        assert isinstance(kv, TupleCoder)  # a KV coder: the keyed step's input
        key, value = kv.coders()
        specs[name.split("/")[1]] = (state, set(payload.timer_family_specs), type(key), type(value))
    assert specs == {
        "DropTransportDuplicates": (
            {"seen": "VarIntCoder"},
            {"ts-expire"},
            StrUtf8Coder,
            FrameCoder,
        ),
        "DropSemanticDuplicates": (
            {"last": EntityStateCoder.__name__},
            {"ts-expire"},
            StrUtf8Coder,
            FrameCoder,
        ),
    }


def test_worker_options_of_the_flex_template_reach_the_job(job):
    environment = apiclient.Environment(
        [], job.options, "1", "gs://unused/pipeline.pb", proto_pipeline=job.proto_pipeline
    ).proto
    assert job.proto.type_.name == "JOB_TYPE_STREAMING" and job.proto.name == "tote-pipeline"
    assert "enable_streaming_engine" in environment.experiments
    (pool,) = environment.worker_pools
    assert pool.machine_type == "n2-standard-2"
    assert pool.autoscaling_settings.max_num_workers == 3
    assert environment.service_account_email == f"tote-dataflow@{PROJECT}.iam.gserviceaccount.com"
    assert job.options.view_as(apiclient.GoogleCloudOptions).region == REGION
