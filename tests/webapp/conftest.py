"""Web app fixtures: an app without Pub/Sub (events injected into its bus) and helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp.app import create_app, shutdown_app
from webapp.config import Config
from webapp.events import Event, parse_message
from webapp.runtime import Runtime


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        settings: dict[str, object] = {
            "pubsub_enabled": False,
            "heartbeat_seconds": 5.0,
            "flush_interval": 0.0,
            "reorder_ms": 0,
        }
        settings.update(overrides)
        app = create_app(Config(**settings))  # type: ignore[arg-type]  # each test passes Config fields of the right type
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        shutdown_app(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def inject(
    app: Flask, message: tuple[bytes, dict[str, str], str], message_id: str = ""
) -> Event | None:
    """Put a typed-topic message into the app's bus, as the Pub/Sub shell would."""
    runtime: Runtime = app.extensions["tote"]
    data, attributes, topic = message
    return runtime.bus.publish(parse_message(data, attributes, topic, message_id=message_id))
