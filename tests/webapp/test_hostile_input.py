"""Hostile requests must never cost a client its stream slots (a leak would 429 it for good)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.responses import json_body
from webapp.runtime import Runtime


def _runtime(app: Flask) -> Runtime:
    return app.extensions["tote"]


def test_superscript_digit_id_repeated_leaks_no_slot(make_app: Callable[..., Flask]) -> None:
    app = make_app(max_streams_per_client=3)
    client = app.test_client()
    for _ in range(20):
        response = client.get("/events?last_event_id=abc-%C2%B2")
        assert response.status_code < 500
        response.close()
    ok = client.get("/events")
    assert ok.status_code == 200
    ok.close()
    assert json_body(client.get("/status"))["clients"]["connected"] == 0
    assert _runtime(app).limiter.open_streams() == 0


@pytest.mark.parametrize("error", [ValueError("bad id"), KeyError("boom"), TypeError("boom")])
def test_any_error_while_opening_a_stream_releases_the_slot(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    app = make_app(max_streams_per_client=1)
    runtime = _runtime(app)

    def failing_plan(last_event_id: str | None) -> None:
        raise error

    monkeypatch.setattr(runtime.bus, "plan", failing_plan)
    client = app.test_client()
    for _ in range(3):
        if isinstance(error, ValueError):  # the client's id: a 400 with a JSON message
            response = client.get("/events?last_event_id=whatever-1")
            assert response.status_code == 400 and json_body(response)["error"]
        else:  # our bug: a 500 (raised by the test client), but still no leaked slot
            with pytest.raises(type(error)):
                client.get("/events")
        assert runtime.limiter.open_streams() == 0
    monkeypatch.undo()
    ok = client.get("/events")
    assert ok.status_code == 200
    ok.close()
    assert runtime.limiter.open_streams() == 0


def test_error_after_connect_disconnects_the_bus_client(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    runtime = _runtime(app)

    def broken_stream(*args: object, **kwargs: object) -> None:
        raise RuntimeError("cannot build the body")

    monkeypatch.setattr("webapp.sse_blueprint.event_stream", broken_stream)
    with pytest.raises(RuntimeError):
        app.test_client().get("/events")
    assert runtime.limiter.open_streams() == 0
    assert runtime.bus.stats().clients == 0
