"""The whole tote-realtime system on one machine: what ``make run`` and the end-to-end tests start.

Order (each step waits until its part answers before the next starts):

1. the official Pub/Sub emulator;
2. the BigQuery emulator (own virtualenv) with offline credentials for the pipeline;
3. topics, subscriptions, dataset, tables and views, all from the message catalog;
4. the Tote simulator (unless ``tote_url`` points at a real / other Tote-compatible server), which
   also serves the query API the connector's reconciliation sweeps use (``TOTE_GRAPHQL_URL``;
   with an external ``tote_url`` the sweeps use ``graphql_url``, or are off without one);
5. the connector's control API (gunicorn);
6. the web app (gunicorn), subscribed before any typed event is published;
7. the pipeline (``python -m pipeline`` on BundleBasedDirectRunner), until a probe frame flows;
8. ``POST /start`` to the connector — as Cloud Scheduler does at 06:00.

:meth:`LocalSystem.stop` goes in reverse: the connector is stopped through ``POST /stop`` first
so it flushes every frame it received, then each process group gets SIGTERM (SIGKILL after a
grace period), so nothing is left running and every port is free again.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import catalog
from devstack.pipeline_process import start_pipeline, wait_until_flowing
from devstack.processes import ManagedProcess, ServiceError, free_port, port_is_free
from devstack.provision import provision_pubsub
from devstack.pubsub_emulator import PubSubEmulator
from simulator.query_api import GRAPHQL_PATH

__all__ = ["LocalSystem", "Ports"]

SIMULATOR_PATH = "/partner/connections/graphql/"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ports:
    """Every port the local system listens on (loopback only)."""

    webapp: int = 8080
    connector: int = 8081
    pubsub: int = 8085
    simulator: int = 8765
    simulator_control: int = 8766
    bigquery: int = 9050
    bigquery_grpc: int = 9060

    @classmethod
    def free(cls) -> Ports:
        """Fresh free ports for everything (tests run side by side)."""
        return cls(*(free_port() for _ in range(7)))

    def check_free(self, skip: tuple[str, ...] = ()) -> None:
        taken = [
            f"{name}={port}"
            for name, port in vars(self).items()
            if name not in skip and not port_is_free(port)
        ]
        if taken:
            raise ServiceError(
                "port(s) already in use: " + ", ".join(taken) + " — stop whatever uses them or "
                "choose others (python -m devstack.run --help lists the port flags)"
            )


def _http_json(method: str, url: str, token: str | None = None, timeout: float = 30) -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


@dataclass
class LocalSystem:
    """Start/stop the local system; every knob the tests and ``make run`` need."""

    workdir: Path
    ports: Ports = field(default_factory=Ports)
    project: str = "tote-local"
    dataset: str = catalog.DATASET
    seed: int = 1
    rate: float = 20.0
    max_frames: int | None = None
    tote_url: str | None = None
    graphql_url: str | None = None
    api_key: str | None = None
    bigquery: bool = True
    webapp: bool = True
    simulator_args: tuple[str, ...] = ()
    pipeline_args: tuple[str, ...] = ()
    connector_env: dict[str, str] = field(default_factory=dict)
    shared_pubsub: PubSubEmulator | None = None
    shared_bigquery: Any = None
    say: Callable[[str], None] = lambda _msg: None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs = self.workdir / "logs"
        self.control_token = secrets.token_hex(16)
        # For a developer's curl (POST /reconcile, /start): in a file, never printed.
        self.control_token_path.write_text(self.control_token, encoding="utf-8")
        self.control_token_path.chmod(0o600)
        if self.api_key is None:
            self.api_key = "local-" + secrets.token_hex(8)
        self.pubsub: PubSubEmulator | None = None
        self.bq: Any = None
        self.env: dict[str, str] = {}
        self.processes: dict[str, ManagedProcess] = {}

    # -- urls ---------------------------------------------------------------------------------
    @property
    def external_tote(self) -> bool:
        return bool(self.tote_url)

    @property
    def simulator_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports.simulator}{SIMULATOR_PATH}"

    @property
    def simulator_control(self) -> str:
        return f"http://127.0.0.1:{self.ports.simulator_control}"

    @property
    def simulator_graphql_url(self) -> str:
        """The simulator's query API (on its control port)."""
        return f"{self.simulator_control}{GRAPHQL_PATH}"

    @property
    def query_url(self) -> str:
        """What the connector's sweeps query: the external server's, else the simulator's;
        empty (sweeps off) for an external websocket without a query URL."""
        if self.external_tote:
            return self.graphql_url or ""
        return self.simulator_graphql_url

    @property
    def connector_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.connector}"

    @property
    def webapp_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.webapp}"

    @property
    def control_token_path(self) -> Path:
        """The connector's local control token (mode 0600)."""
        return self.workdir / "control-token"

    @property
    def capture_path(self) -> Path:
        return self.workdir / "capture.jsonl"

    @property
    def simulator_record(self) -> Path:
        return self.workdir / "simulator-sent.jsonl"

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> LocalSystem:
        skip: tuple[str, ...] = ("simulator", "simulator_control") if self.external_tote else ()
        if self.shared_pubsub is not None:
            skip += ("pubsub",)
        if not self.bigquery or self.shared_bigquery is not None:
            skip += ("bigquery", "bigquery_grpc")
        if not self.webapp:
            skip += ("webapp",)
        self.ports.check_free(skip)
        try:
            self._start_emulators()
            if not self.external_tote:
                self.start_simulator()
            self.start_connector()
            if self.webapp:  # before the pipeline, so it sees every typed event from the start
                self.start_webapp()
            self.start_pipeline()
            # Last, as Cloud Scheduler would at 06:00: frames flow once everything is up.
            self._step("connector started (POST /start)", lambda: self.connector_post("/start"))
        except BaseException:
            self.stop()
            raise
        return self

    def _step(self, what: str, fn: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        result = fn()
        self.say(f"  ✓ {what} ({time.monotonic() - t0:.1f}s)")
        return result

    def _start_emulators(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("BIGQUERY_EMULATOR")}
        base.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
        base.setdefault("GCE_METADATA_IP", "127.0.0.9:1")
        self.pubsub = self.shared_pubsub or self._step(
            f"Pub/Sub emulator on {self.ports.pubsub}",
            lambda: PubSubEmulator.start(self.logs / "pubsub-emulator.log", self.ports.pubsub),
        )
        base["PUBSUB_EMULATOR_HOST"] = self.pubsub.host
        base["GOOGLE_CLOUD_PROJECT"] = self.project
        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub.host  # for our own clients
        os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.9:1")
        self._step(
            "topics and subscriptions from the catalog",
            lambda: provision_pubsub(self.project, webapp_retention=True),
        )
        if self.bigquery:
            from devstack.bigquery_emulator import BigQueryEmulator, local_bigquery_env
            from pipeline import tables

            self.bq = self.shared_bigquery or self._step(
                f"BigQuery emulator on {self.ports.bigquery}",
                lambda: BigQueryEmulator.start(
                    self.logs / "bigquery-emulator.log",
                    self.workdir / "bigquery-data",
                    port=self.ports.bigquery,
                    grpc_port=self.ports.bigquery_grpc,
                    project=self.project,
                ),
            )
            base.update(local_bigquery_env(self.bq, self.project, self.workdir))
            self._step(
                f"dataset {self.dataset}, tables and views from the catalog",
                lambda: tables.ensure_all(self.bq.client(self.project), self.project, self.dataset),
            )
        self.env = base

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        proc = ManagedProcess(
            name, argv, log_path=self.logs / f"{name}.log", env=env, cwd=REPO_ROOT
        )
        self.processes[name] = proc.start()
        return proc

    def start_simulator(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "simulator",
            "--host=127.0.0.1",
            f"--port={self.ports.simulator}",
            f"--control-port={self.ports.simulator_control}",
            f"--seed={self.seed}",
            f"--rate={self.rate}",
            f"--api-key={self.api_key}",
            f"--record={self.simulator_record}",
            *([f"--max-frames={self.max_frames}"] if self.max_frames else []),
            *self.simulator_args,
        ]
        proc = self._spawn("simulator", argv, self.env)
        self._step(
            f"Tote simulator on {self.ports.simulator} (seed {self.seed}, {self.rate:g} msg/s)",
            lambda: proc.wait_ready(f"{self.simulator_control}/health"),
        )

    def connector_environment(self) -> dict[str, str]:
        """The connector's environment: Tote's (or the simulator's) both sides, the key, the
        control token, the capture file, then any test overrides."""
        return {
            **self.env,
            "PORT": str(self.ports.connector),
            "HOST": "127.0.0.1",
            "TOTE_SUBSCRIPTIONS_URL": self.tote_url or self.simulator_url,
            "TOTE_GRAPHQL_URL": self.query_url,
            "TOTE_API_KEY": self.api_key or "",
            # The simulator's day runs whenever you run it: sweep periodically at any hour.
            **({} if self.external_tote else {"SWEEP_HOURS": "00:00-24:00"}),
            "CONTROL_TOKEN": self.control_token,
            "CAPTURE_PATH": str(self.capture_path),
            **self.connector_env,
        }

    def start_connector(self) -> None:
        env = self.connector_environment()
        proc = self._spawn("connector", [sys.executable, "-m", "connector"], env)
        self._step(
            f"connector control API on {self.ports.connector}",
            lambda: proc.wait_ready(f"{self.connector_url}/health"),
        )

    def connector_post(self, path: str) -> Any:
        return _http_json("POST", f"{self.connector_url}{path}", self.control_token)

    def connector_status(self) -> Any:
        return _http_json("GET", f"{self.connector_url}/status")

    def simulator_post(self, path: str) -> Any:
        return _http_json("POST", f"{self.simulator_control}{path}")

    def simulator_stats(self) -> Any:
        return _http_json("GET", f"{self.simulator_control}/stats")

    def simulator_state(self, day: str | None = None) -> Any:
        """Every entity's current state in the simulator (``GET /state``)."""
        query = f"?day={day}" if day else ""
        return _http_json("GET", f"{self.simulator_control}/state{query}")

    def start_pipeline(self) -> None:
        proc = start_pipeline(
            self.project,
            self.logs / "pipeline.log",
            self.env,
            dataset=self.dataset,
            bigquery=self.bigquery,
            extra=self.pipeline_args,
        )
        self.processes["pipeline"] = proc
        self._step(
            "pipeline (BundleBasedDirectRunner) flowing",
            lambda: wait_until_flowing(self.project, proc),
        )

    def stop_pipeline(self) -> None:
        proc = self.processes.pop("pipeline", None)
        if proc is not None:
            proc.stop()

    def start_webapp(self) -> None:
        env = {**self.env, "PORT": str(self.ports.webapp), "WEBAPP_HOST": "127.0.0.1"}
        proc = self._spawn(
            "webapp",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "webapp/gunicorn_conf.py",
                "webapp.app:create_app()",
            ],
            env,
        )
        self._step(
            f"web app on {self.ports.webapp}",
            lambda: proc.wait_ready(f"{self.webapp_url}/health", timeout=60),
        )

    def stop(self) -> None:
        """Stop everything, newest first; safe to call twice or after a failed start."""
        connector = self.processes.get("connector")
        if connector is not None and connector.alive():
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                self.connector_post("/stop")  # closes the socket and flushes received frames
        # each step on its own: one that fails must not leave the others running
        for name in ("webapp", "pipeline", "connector", "simulator", *self.processes):
            proc = self.processes.pop(name, None)
            if proc is not None:
                self._stop_step(name, proc.stop)
        if self.bq is not None and self.bq is not self.shared_bigquery:
            self._stop_step("bigquery emulator", self.bq.stop)
        self.bq = None
        if self.pubsub is not None and self.pubsub is not self.shared_pubsub:
            self._stop_step("pubsub emulator", self.pubsub.stop)
        self.pubsub = None

    def _stop_step(self, what: str, stop: Callable[[], Any]) -> None:
        try:
            stop()
        except Exception as exc:  # noqa: BLE001 - reported; the other stop steps still run
            self.say(f"stopping {what} failed: {type(exc).__name__}: {exc}")
