"""The control API (Flask test client) with the real emulator and the simulator."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector import api
from connector.api import create_app
from connector.logs import configure_logging
from connector.settings import Settings
from tests.responses import json_body

from .conftest import API_KEY, Ingress, SimulatorProcess, wait_until

pytestmark = pytest.mark.emulator

TOKEN = "local-control-token-42"
AUDIENCE = "https://connector.test"
ALLOWED = "scheduler@proj.iam.gserviceaccount.com"
CLAIMS = {
    "good.jwt.token": {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": ALLOWED, "email_verified": True},
    "other.jwt.token": {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": "x@evil.com", "email_verified": True},
}  # fmt: skip


def fake_google(token: str) -> dict[str, Any]:
    """Stands in for Google's signature check (tests cannot reach Google)."""
    if token not in CLAIMS:
        raise ValueError("Could not verify token signature.")
    return CLAIMS[token]


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_tote_connector", False):
            logging.getLogger().removeHandler(handler)


@pytest.fixture
def make_client(ingress: Ingress, logs: io.StringIO) -> Iterator[Callable[..., FlaskClient]]:
    def make(
        tote_url: str = "ws://127.0.0.1:9/partner/connections/graphql/", **over: Any
    ) -> FlaskClient:
        values: dict[str, Any] = {
            "tote_url": tote_url,
            "api_key": API_KEY,
            "project": ingress.project,
            "ingress_topic": ingress.topic,
            "control_token": TOKEN,
            "allowed_invokers": (ALLOWED,),
            "oidc_audience": AUDIENCE,
            "backoff_base_seconds": 0.05,
            "backoff_cap_seconds": 0.5,
            "log_level": "DEBUG",
        }
        values.update(over)
        app = create_app(Settings(**values), verifier=fake_google)
        configure_logging(Settings(**values).secrets, "DEBUG", logs)  # capture this app's logs
        logging.getLogger("websockets").setLevel(logging.DEBUG)  # headers included
        return app.test_client()

    yield make
    api.shutdown_services()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_and_status_are_open_and_secret_free(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client()
    health = client.get("/health")
    assert health.status_code == 200 and json_body(health)["status"] == "ok"
    status = client.get("/status")
    assert status.status_code == 200
    body = json_body(status)
    for key in ("state", "connected_since", "protocol", "frames_received", "published",
                "publish_failures", "buffered", "refused", "reconnects", "last_reconnect_reason",
                "last_frame_at"):  # fmt: skip
        assert key in body, key
    assert body["state"] == "idle" and body["published"] == 0
    assert API_KEY not in status.get_data(as_text=True) and TOKEN not in status.get_data(
        as_text=True
    )


@pytest.mark.parametrize("path", ["/start", "/stop", "/test-pubsub"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (bearer("wrong"), 401),
        ({"Authorization": f"Api-Key {TOKEN}"}, 401),
        (bearer("forged.jwt.token"), 401),
        (bearer("other.jwt.token"), 403),
    ],
)
def test_post_endpoints_require_authentication(
    make_client: Callable[..., FlaskClient], path: str, headers: dict[str, str], status: int
) -> None:
    client = make_client()
    resp = client.post(path, headers=headers)
    assert resp.status_code == status
    assert json_body(resp)["error"] and json_body(resp)["status"] == status
    assert json_body(client.get("/status"))["state"] == "idle"  # nothing happened


def test_locked_when_no_credentials_are_configured(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(control_token="", allowed_invokers=())
    resp = client.post("/start", headers=bearer("anything"))
    assert resp.status_code == 403 and "CONTROL_TOKEN" in json_body(resp)["error"]


def test_unknown_route_and_wrong_method_are_json_4xx(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client()
    assert client.get("/nope").status_code == 404
    wrong = client.get("/start")
    assert wrong.status_code == 405 and json_body(wrong)["error"]


def test_test_pubsub_publishes_a_marked_message(
    make_client: Callable[..., FlaskClient], ingress: Ingress
) -> None:
    client = make_client()
    resp = client.post("/test-pubsub", headers=bearer("good.jwt.token"))  # Scheduler's identity
    assert resp.status_code == 200
    (message,) = ingress.pull(1)
    assert message.message_id == json_body(resp)["message_id"]
    assert message.attributes["test"] == "true"
    assert {"frame_id", "received_at", "connection_id", "protocol"} <= set(message.attributes)


def test_test_pubsub_reports_a_failure(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(ingress_topic="no-such-topic-here")
    resp = client.post("/test-pubsub", headers=bearer(TOKEN))
    assert resp.status_code == 502 and "no-such-topic-here" in json_body(resp)["error"]


def test_start_and_stop_are_idempotent_and_the_key_never_leaks(
    make_client: Callable[..., FlaskClient],
    start_simulator: Callable[..., SimulatorProcess],
    logs: io.StringIO,
) -> None:
    sim = start_simulator("--rate", "100")
    client = make_client(sim.url)
    first = client.post("/start", headers=bearer(TOKEN))
    assert first.status_code == 200 and json_body(first)["started"] is True
    again = client.post("/start", headers=bearer("good.jwt.token"))
    assert again.status_code == 200 and json_body(again)["already_running"] is True
    wait_until(lambda: json_body(client.get("/status"))["frames_received_total"] > 10, 60, "frames")
    assert sim.stats()["connections_total"] == 1
    stop = client.post("/stop", headers=bearer(TOKEN))
    assert stop.status_code == 200 and json_body(stop)["stopped"] is True
    assert json_body(stop)["state"] == "stopped" and json_body(stop)["buffered"] == 0
    status = json_body(client.get("/status"))
    assert status["published"] == status["frames_received_total"]
    assert json_body(client.post("/stop", headers=bearer(TOKEN)))["already_stopped"] is True
    text = logs.getvalue()
    assert "Authorization" in text and "connected to Tote" in text  # headers were logged...
    assert API_KEY not in text and TOKEN not in text  # ...with the secrets redacted
    assert [json.loads(line)["severity"] for line in text.splitlines()]


def test_status_rejects_a_bad_latency_window(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client()
    assert client.get("/status?latency_window=500").status_code == 200
    for bad in ("0", "-1", "lots", "99999999", "%C2%B2", "%D9%A3", "1_0"):
        resp = client.get(f"/status?latency_window={bad}")
        assert resp.status_code == 400 and "latency_window" in json_body(resp)["error"]


def test_autostart_connects_without_a_post(
    make_client: Callable[..., FlaskClient], start_simulator: Callable[..., SimulatorProcess]
) -> None:
    sim = start_simulator("--rate", "50")
    client = make_client(sim.url, autostart=True)
    wait_until(lambda: json_body(client.get("/status"))["state"] == "connected", 60, "autostart")
    assert sim.stats()["connections_total"] == 1


def test_bad_subscription_config_fails_the_boot_clearly(
    ingress: Ingress, logs: io.StringIO
) -> None:
    from connector.subscriptions import SubscriptionConfigError

    settings = Settings(project=ingress.project, subscriptions=("onNope",))
    with pytest.raises(SubscriptionConfigError, match="onNope"):
        create_app(settings)


def test_refusals_keep_their_own_text_and_every_request_line_is_traceable(
    make_client: Callable[..., FlaskClient], logs: io.StringIO
) -> None:
    client = make_client()
    resp = client.post(
        "/start",
        headers={
            "X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/7;o=1",
            "X-Request-Id": "scheduler-run-0001",
        },
    )
    assert resp.status_code == 401
    assert json_body(resp)["error"] == "missing Authorization header (Bearer token expected)"
    assert resp.headers["X-Request-Id"] == "scheduler-run-0001"
    [refusal] = [
        json.loads(line) for line in logs.getvalue().splitlines() if "refused POST" in line
    ]
    assert refusal["request_id"] == "scheduler-run-0001"
    assert refusal["logging.googleapis.com/trace"].endswith(
        "/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert "Bearer token expected" in refusal["message"]
    made = client.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32  # unusable ids are replaced, not echoed
