from __future__ import annotations

import pytest

from webapp.config import Config, ConfigError


def test_defaults() -> None:
    config = Config.from_env({})
    assert config.pubsub_enabled and config.topic_prefix == "" and config.token is None
    assert config.cors_origins == () and config.port == 8080
    assert config.client_queue == config.buffer_size == 10_000


def test_values_from_the_environment() -> None:
    config = Config.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "WEBAPP_TOPIC_PREFIX": "dev-",
            "WEBAPP_PUBSUB": "false",
            "SSE_TOKEN": "s3cret",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "SSE_MAX_STREAMS_PER_CLIENT": "3",
            "SSE_BUFFER_SIZE": "500",
            "SSE_HEARTBEAT_SECONDS": "2.5",
            "PORT": "9000",
        }
    )
    assert config.project == "p" and config.topic_prefix == "dev-" and not config.pubsub_enabled
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.max_streams_per_client == 3 and config.heartbeat_seconds == 2.5
    assert config.buffer_size == config.client_queue == 500 and config.port == 9000
    assert config.token == "s3cret"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SSE_BUFFER_SIZE": "lots"}, "SSE_BUFFER_SIZE must be an integer"),
        ({"SSE_MAX_STREAMS_PER_CLIENT": "0"}, "SSE_MAX_STREAMS_PER_CLIENT must be >= 1"),
        ({"SSE_HEARTBEAT_SECONDS": "soon"}, "SSE_HEARTBEAT_SECONDS must be a number"),
        ({"WEBAPP_PUBSUB": "maybe"}, "WEBAPP_PUBSUB must be true or false"),
        ({"SSE_BUFFER_SIZE": "10", "SSE_CLIENT_QUEUE": "20"}, "must not exceed SSE_BUFFER_SIZE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_typed_topics_keep_messages_for_at_least_the_replay_window() -> None:
    """The warm-up seeks back WEBAPP_REPLAY_WINDOW_MINUTES: Terraform's retention must cover it."""
    from tests.terraform.hcl import load

    config = load()
    typed = config.resource("google_pubsub_topic", "typed")
    assert typed["message_retention_duration"] == "${var.typed_topic_retention}"
    retention = config.variable_default("typed_topic_retention")
    assert retention.endswith("s") and int(retention[:-1]) >= Config().replay_window_minutes * 60


def test_data_contract_settings_from_the_environment() -> None:
    config = Config.from_env(
        {
            "SSE_REORDER_MS": "250",
            "WEBAPP_REPLAY_WINDOW_MINUTES": "0",
            "WEBAPP_WARMUP_QUIET_SECONDS": "2.5",
        }
    )
    assert (config.reorder_ms, config.replay_window_minutes) == (250, 0)
    assert config.warmup_quiet_seconds == 2.5
    defaults = Config.from_env({})
    assert (defaults.reorder_ms, defaults.replay_window_minutes) == (100, 30)
    with pytest.raises(ConfigError, match="SSE_REORDER_MS"):
        Config.from_env({"SSE_REORDER_MS": "-1"})
