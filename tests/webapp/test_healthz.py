"""``/healthz`` (Cloud Run's liveness probe) reflects the process, not Pub/Sub."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.responses import json_body
from webapp.runtime import Runtime


def test_liveness_follows_the_dispatcher_not_pubsub(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "alive"}
    runtime: Runtime = app.extensions["tote"]
    runtime.dispatcher.stop()  # the writer thread gone while the app still takes requests
    broken = client.get("/healthz")
    assert broken.status_code == 503 and json_body(broken)["status"] == "broken"
