"""The Flask layer through its test client (no Pub/Sub: events are injected into the bus)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.responses import json_body
from tests.webapp.conftest import inject
from tests.webapp.messages import PRODUCT, event_status, pool_total
from webapp import sse


def _messages(response: TestResponse, count: int) -> list[sse.Message]:
    """Read ``count`` events from a streamed response (the test client does not buffer it)."""
    parser = sse.Parser()
    got: list[sse.Message] = []
    chunks: Iterator[bytes] = response.iter_encoded()
    while len(got) < count:
        got.extend(parser.feed(next(chunks)))
    return got


def test_health_and_status(client: FlaskClient, app: Flask) -> None:
    assert client.get("/health").json == {"status": "ok"}
    event = inject(app, pool_total("10"))
    status = json_body(client.get("/status"))
    assert status["events"]["in"] == 1
    assert status["clients"] == {
        "connected": 0,
        "total": 0,
        "dropped": 0,
        "limit_per_client": 10,
        "limit_total": 1200,
    }
    assert status["buffer"]["size"] == 1 and status["buffer"]["newest_id"] == event.id  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    assert status["pubsub"] == {"enabled": False, "project": "local-project", "subscriptions": []}
    assert set(status["latency_ms"]) == {
        "pubsub_to_bus",
        "reorder_hold",
        "bus_to_written",
        "dispatch_tick",
    }


def test_events_stream_headers_retry_and_events(client: FlaskClient, app: Flask) -> None:
    response = client.get("/events")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "no-cache" in response.headers["Cache-Control"]
    chunks = response.iter_encoded()
    parser = sse.Parser()
    list(parser.feed(next(chunks)))
    assert parser.retry == 3000
    event = inject(app, pool_total("6645.4"))
    (message,) = list(parser.feed(next(chunks)))
    assert message.event == "pool-total" and message.id == event.id  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    assert message.json()["data"]["gross_amounts"] == [{"amount": "6645.4", "currency": "GBP"}]  # type: ignore[index]  # json() is object: this event's data is a JSON object
    response.close()
    assert json_body(client.get("/status"))["clients"]["connected"] == 0


def test_type_and_product_filters(client: FlaskClient, app: Flask) -> None:
    response = client.get(f"/events?types=pool-total,event-status&product_id={PRODUCT.upper()}")
    next(response.iter_encoded())
    inject(app, event_status("OFF"))  # no product id: filtered out
    inject(app, pool_total("1", product_id="00000000-0000-4000-8000-000000000000"))
    inject(app, pool_total("2"))
    (message,) = _messages(response, 1)
    assert message.json()["data"]["gross_amounts"][0]["amount"] == "2"  # type: ignore[index]  # json() is object: this event's data is a JSON object
    response.close()


def test_bad_filter_is_a_400_with_a_message(client: FlaskClient) -> None:
    response = client.get("/events?types=pool-totals")
    assert response.status_code == 400
    assert "unknown event type(s) pool-totals" in json_body(response)["error"]
    assert client.get("/events", headers={"Last-Event-ID": "x" * 100}).status_code == 400


def test_last_event_id_replays_without_gap(client: FlaskClient, app: Flask) -> None:
    events = [inject(app, pool_total(str(i))) for i in range(5)]
    response = client.get("/events", headers={"Last-Event-ID": events[1].id})  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    assert [m.id for m in _messages(response, 3)] == [e.id for e in events[2:]]  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    response.close()
    # First connection: the id as a query parameter.
    response = client.get(f"/events?last_event_id={events[3].id}")  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    assert [m.id for m in _messages(response, 1)] == [events[4].id]  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    response.close()


def test_gap_older_than_the_buffer_is_announced(make_app: Callable[..., Flask]) -> None:
    app = make_app(buffer_size=3, client_queue=3)
    events = [inject(app, pool_total(str(i))) for i in range(6)]
    response = app.test_client().get("/events", headers={"Last-Event-ID": events[0].id})  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    messages = _messages(response, 4)
    assert messages[0].event == "replay-gap" and messages[0].id is None
    assert messages[0].json() == {
        "reason": "expired",
        "last_event_id": events[0].id,  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
        "missed": None,  # ids are not counted: not known without the evicted events
        "oldest_available": events[3].id,  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    }
    assert [m.id for m in messages[1:]] == [e.id for e in events[3:]]  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    response.close()


def test_id_from_another_instance_is_announced(client: FlaskClient) -> None:
    response = client.get("/events", headers={"Last-Event-ID": "zzz-5"})  # not one of ours
    (notice,) = _messages(response, 1)
    assert notice.event == "replay-gap" and notice.json()["reason"] == "unknown-id"  # type: ignore[index]  # json() is object: this event's data is a JSON object
    response.close()


def test_streams_per_client_address_are_capped(make_app: Callable[..., Flask]) -> None:
    client = make_app(max_streams_per_client=2).test_client()
    open_streams = [client.get("/events") for _ in range(2)]
    for response in open_streams:
        next(response.iter_encoded())
    refused = client.get("/events")
    assert refused.status_code == 429 and "limit 2" in json_body(refused)["error"]
    assert refused.headers["Retry-After"]
    other = client.get("/events", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200
    other.close()
    open_streams[0].close()
    again = client.get("/events")
    assert again.status_code == 200
    again.close()
    open_streams[1].close()


def test_instance_stream_cap_is_a_503(make_app: Callable[..., Flask]) -> None:
    client = make_app(max_streams=1).test_client()
    first = client.get("/events")
    assert client.get("/events", environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 503
    first.close()


def test_cors(make_app: Callable[..., Flask]) -> None:
    client = make_app(cors_origins=("https://dash.example",)).test_client()
    preflight = client.options("/events", headers={"Origin": "https://dash.example"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert "Last-Event-ID" in preflight.headers["Access-Control-Allow-Headers"]
    assert client.options("/events", headers={"Origin": "https://evil.example"}).status_code == 403
    stream = client.get("/events", headers={"Origin": "https://dash.example"})
    assert stream.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    stream.close()
    other = client.get("/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    other.close()


def test_unknown_route_and_method_are_json_4xx(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and json_body(missing)["error"]
    assert client.post("/events").status_code == 405


def test_dashboard_is_served(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and b"EventSource" not in page.data  # logic lives in the JS
    assert b"/static/dashboard.js" in page.data
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/dashboard.css").status_code == 200


def test_shutdown_ends_open_streams(app: Flask, client: FlaskClient) -> None:
    response = client.get("/events")
    chunks = response.iter_encoded()
    next(chunks)
    app.extensions["tote"].shutdown()
    assert list(chunks) == []
    assert client.get("/health").status_code == 503
    assert client.get("/events").status_code == 503


def test_head_on_events_returns_headers_without_a_stream(client: FlaskClient) -> None:
    response = client.head("/events")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert json_body(client.get("/status"))["clients"]["total"] == 0
