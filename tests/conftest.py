"""Fixtures shared by every test package.

The official Pub/Sub emulator is started once per test session on a free port (and stopped at
the end); tests that need it take the ``pubsub_emulator`` fixture, which also points the Google
clients at it.  ``GCE_METADATA_HOST`` is set to an unused loopback address so google-auth never
probes a metadata server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
os.environ.setdefault("GCE_METADATA_IP", "127.0.0.9:1")

from devstack.pubsub_emulator import PubSubEmulator

PROJECT = "tote-test"


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def pubsub_emulator(logs_dir: Path) -> Iterator[PubSubEmulator]:
    """A running emulator with ``PUBSUB_EMULATOR_HOST`` set for this process and children."""
    emulator = PubSubEmulator.start(logs_dir / "pubsub-emulator.log")
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", PROJECT)
    try:
        yield emulator
    finally:
        emulator.stop()
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


@pytest.fixture
def project() -> str:
    return PROJECT


# --- BigQuery emulator ----------------------------------------------------------------------------

from devstack.bigquery_emulator import BigQueryEmulator, local_bigquery_env  # noqa: E402 - grouped with its fixtures


@pytest.fixture(scope="session")
def bigquery_emulator(
    logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BigQueryEmulator]:
    """A running bqemulator, with the environment set for this process and its children.

    ``BIGQUERY_EMULATOR_HOST`` (the ``http://`` URL), ``GOOGLE_APPLICATION_CREDENTIALS``
    (throwaway, never refreshed) and ``GOOGLE_CLOUD_PROJECT`` are set for the session, so a
    Beam pipeline run in-process or as a subprocess writes to the emulator; in this process
    ``bigquery_emulator.client(project)`` is the simplest client.
    """
    emulator = BigQueryEmulator.start(
        logs_dir / "bigquery-emulator.log", tmp_path_factory.mktemp("bqemulator"), project=PROJECT
    )
    env = local_bigquery_env(emulator, PROJECT, tmp_path_factory.mktemp("bqcredentials"))
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield emulator
    finally:
        emulator.stop()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- Tote simulator -------------------------------------------------------------------------------

from testsupport.simulator_process import SimulatorProcess, simulator_starter  # noqa: E402 - grouped with its fixtures


@pytest.fixture
def start_simulator(tmp_path: Path) -> Iterator[Callable[..., SimulatorProcess]]:
    """``start(*args)`` runs ``python -m simulator`` on free ports; all are stopped afterwards."""
    yield from simulator_starter(tmp_path)
