"""Start the streaming pipeline as a local process (BundleBasedDirectRunner + emulators).

Used by ``make run``, the end-to-end tests and the benchmarks, so all of them run the pipeline
exactly as a data engineer would: ``python -m pipeline`` with flags, the emulators found through
the environment (``PUBSUB_EMULATOR_HOST``, ``BIGQUERY_EMULATOR_HOST`` + offline credentials).

The direct runner has no readiness signal of its own, so :func:`wait_until_flowing` publishes a
probe frame and waits for it on a typed topic.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.cloud import pubsub_v1

from contract import catalog, ingress
from devstack.processes import ManagedProcess, ServiceError
from devstack.provision import ensure_subscription
from testsupport import examples

__all__ = ["pipeline_argv", "start_pipeline", "wait_until_flowing"]


def pipeline_argv(
    project: str,
    *,
    subscription: str = catalog.INGRESS_SUBSCRIPTION,
    dataset: str = catalog.DATASET,
    bigquery: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "--runner=BundleBasedDirectRunner",
        "--streaming",
        f"--project={project}",
        f"--ingress_subscription={subscription}",
        f"--dataset={dataset}",
        f"--bigquery={'on' if bigquery else 'off'}",
        *extra,
    ]


def start_pipeline(
    project: str,
    log_path: Path,
    env: Mapping[str, str],
    **kwargs: Any,
) -> ManagedProcess:
    """Start ``python -m pipeline`` in its own process group; returns at once."""
    argv = pipeline_argv(project, **kwargs)
    return ManagedProcess("pipeline", argv, log_path=log_path, env=env).start()


def wait_until_flowing(
    project: str, process: ManagedProcess | None = None, timeout: float = 90.0
) -> float:
    """Publish a probe BetAccepted and wait until it reaches its typed topic.

    Returns the seconds it took.  The probe is a bet (not a pool or a race, which dashboards
    show) with a fresh bet id (so semantic dedup never drops it), customer bet id
    ``tote-realtime-readiness-probe`` and connection id ``probe``; readers subscribed before
    the probe see it too, so callers that count events subscribe after this returns.
    """
    probe_bet = f"{int(time.time() * 1e6):032x}"
    topic = "tote-bet-lifecycle"
    sub = ensure_subscription(project, topic, f"probe-{probe_bet[-12:]}")
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    message = examples.example_message(
        "BetAccepted", betId=probe_bet, customerBetId="tote-realtime-readiness-probe"
    )
    start = time.monotonic()
    deadline = start + timeout
    try:
        while time.monotonic() < deadline:
            data, attrs = examples.ingress_message(examples.frame("BetAccepted", message))
            attrs[ingress.ATTR_CONNECTION_ID] = "probe"
            publisher.publish(
                publisher.topic_path(project, catalog.INGRESS_TOPIC),
                data,
                **attrs,  # type: ignore[arg-type]  # attributes are str: mypy matches **dict[str, str] against retry=/timeout=
            ).result(30)
            poll_until = min(deadline, time.monotonic() + 10)
            while time.monotonic() < poll_until:
                if process is not None and not process.alive():
                    raise ServiceError(f"pipeline exited:\n{process.log_tail()}")
                resp = subscriber.pull(subscription=sub, max_messages=10, timeout=2)
                if resp.received_messages:
                    subscriber.acknowledge(
                        subscription=sub, ack_ids=[m.ack_id for m in resp.received_messages]
                    )
                    return time.monotonic() - start
        raise ServiceError(f"pipeline did not deliver a probe within {timeout:.0f}s")
    finally:
        subscriber.delete_subscription(subscription=sub)
        subscriber.close()
