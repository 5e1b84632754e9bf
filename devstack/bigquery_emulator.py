"""The local BigQuery stand-in: bqemulator (DuckDB + sqlglot), and credentials that work offline.

bqemulator lives in its own virtualenv (``.bqvenv``, ``make install``) and is started by
``devstack/bqemulator_launcher.py``, which makes its start-up offline-safe and makes
``insertAll`` report bad rows like BigQuery does.  It always runs ``--persistent`` with a data
directory: in-memory mode grows to gigabytes.

Two ways to talk to it:

* this process: :meth:`BigQueryEmulator.client` (anonymous credentials, explicit endpoint);
* a child process such as the Beam pipeline, whose clients use Application Default
  Credentials: :func:`local_bigquery_env` returns the environment it needs.

Why a pre-minted token: Beam builds its google-cloud-bigquery client with
``google.auth.default()``.  That client honours ``BIGQUERY_EMULATOR_HOST`` but refreshes an
expired token first, and google-auth (2.63) always sends ``authorized_user`` refreshes to
``oauth2.googleapis.com`` whatever ``token_uri`` says, which fails offline.  An
``authorized_user`` file carrying an access token that expires decades from now is never
refreshed, needs no private key and no token endpoint, and the emulator ignores it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.processes import ManagedProcess, ServiceError, free_port, port_is_free

if TYPE_CHECKING:
    from google.cloud import bigquery

__all__ = [
    "UNUSED_METADATA_HOST",
    "BigQueryEmulator",
    "bqemulator_python",
    "local_bigquery_env",
    "offline_credentials_info",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = Path(__file__).resolve().parent / "bqemulator_launcher.py"
UNUSED_METADATA_HOST = "127.0.0.9:1"
"""Where google-auth looks for a metadata server locally: nothing listens there."""


def bqemulator_python() -> Path:
    """The emulator virtualenv's interpreter (``BQEMULATOR_VENV`` overrides ``.bqvenv``)."""
    venv = Path(os.environ.get("BQEMULATOR_VENV") or REPO_ROOT / ".bqvenv")
    python = venv / "bin" / "python"
    if not python.exists():
        raise ServiceError(
            f"BigQuery emulator virtualenv not found at {venv}: run `make install` "
            "(or `make .bqvenv/.installed`)."
        )
    return python


@dataclass
class BigQueryEmulator:
    """A running emulator; ``endpoint`` is what ``BIGQUERY_EMULATOR_HOST`` must be set to."""

    port: int
    grpc_port: int
    data_dir: Path
    process: ManagedProcess

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: the value for ``BIGQUERY_EMULATOR_HOST``.

        google-cloud-bigquery uses that variable verbatim as its API base URL, so unlike
        ``PUBSUB_EMULATOR_HOST`` it needs the scheme.
        """
        return f"http://{self.host}"

    @classmethod
    def start(
        cls,
        log_path: Path,
        data_dir: Path,
        port: int | None = None,
        *,
        grpc_port: int | None = None,
        project: str = "local-project",
        timeout: float = 60.0,
    ) -> BigQueryEmulator:
        """Start the emulator (REST on ``port``, gRPC on ``grpc_port``) and wait until ready."""
        python = bqemulator_python()
        port, grpc_port = port or free_port(), grpc_port or free_port()
        for what, p in (("REST", port), ("gRPC", grpc_port)):
            if not port_is_free(p):
                raise ServiceError(f"port {p} for the BigQuery emulator ({what}) is in use")
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GCE_METADATA_HOST": UNUSED_METADATA_HOST}
        env["GCE_METADATA_IP"] = UNUSED_METADATA_HOST
        env.pop("PYTHONPATH", None)  # nothing from the project's virtualenv may leak in
        proc = ManagedProcess(
            "bigquery-emulator",
            [
                str(python),
                str(LAUNCHER),
                "--rest-host=127.0.0.1",
                f"--rest-port={port}",
                "--grpc-host=127.0.0.1",
                f"--grpc-port={grpc_port}",
                "--persistent",
                f"--data-dir={data_dir}",
                f"--project={project}",
                "--log-level=warning",
            ],
            log_path=log_path,
            env=env,
            cwd=data_dir,
        ).start()
        proc.wait_ready(
            f"http://127.0.0.1:{port}/readyz",
            timeout=timeout,
            accept=lambda status, _: status == 200,
        )
        return cls(port, grpc_port, data_dir, proc)

    def stop(self) -> None:
        self.process.stop()

    def client(self, project: str) -> bigquery.Client:
        """A google-cloud-bigquery client for this emulator (anonymous credentials)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )


def offline_credentials_info(project: str) -> dict[str, str]:
    """An ``authorized_user`` credentials document that never needs a refresh (dummy values)."""
    return {
        "type": "authorized_user",
        "client_id": "local-bigquery-emulator",
        "client_secret": "not-a-secret",
        "refresh_token": "not-a-refresh-token",
        "token": "local-bigquery-emulator-token",
        "expiry": "2099-12-31T00:00:00Z",
        "quota_project_id": project,
    }


def local_bigquery_env(emulator: BigQueryEmulator, project: str, state_dir: Path) -> dict[str, str]:
    """Environment variables a child process needs to use ``emulator`` through ADC.

    Writes the throwaway credentials file (:func:`offline_credentials_info`) under
    ``state_dir`` and points ``GOOGLE_APPLICATION_CREDENTIALS`` at it.
    """
    credentials = state_dir / "bigquery-emulator-credentials.json"
    state_dir.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps(offline_credentials_info(project), indent=2))
    return {
        "BIGQUERY_EMULATOR_HOST": emulator.endpoint,
        "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
        "GOOGLE_CLOUD_PROJECT": project,
        "GCE_METADATA_HOST": UNUSED_METADATA_HOST,
        "GCE_METADATA_IP": UNUSED_METADATA_HOST,
    }
