from __future__ import annotations

import json
from pathlib import Path

import pytest

from webapp.access import MAX_LEEWAY_SECONDS, MAX_TOKEN_TTL_SECONDS
from webapp.config import Config, ConfigError

SECRET = "s3cret-" + "x" * 40
CLOUD_RUN = {"K_SERVICE": "tote-webapp", "WEBAPP_MARKET_DATA_OPEN": "true"}


def test_defaults() -> None:
    config = Config.from_env({})
    assert config.pubsub_enabled and config.topic_prefix == "" and config.token_keys is None
    assert config.cors_origins == () and config.port == 8080
    assert config.client_queue == config.buffer_size == 10_000


def test_values_from_the_environment() -> None:
    config = Config.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "WEBAPP_TOPIC_PREFIX": "dev-",
            "WEBAPP_PUBSUB": "false",
            "WEBAPP_TOKEN_KEYS": json.dumps({"k2": SECRET, "k1": "y" * 40}),
            "WEBAPP_MARKET_DATA_OPEN": "true",
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
    assert [k.kid for k in config.token_keys.keys] == ["k2", "k1"]  # type: ignore[union-attr]  # WEBAPP_TOKEN_KEYS is set in this test
    assert config.token_keys.signing.kid == "k2"  # type: ignore[union-attr]  # WEBAPP_TOKEN_KEYS is set in this test
    assert config.market_data_open and config.access.enabled
    assert (config.access.audience, config.access.issuer) == ("tote-webapp", "tote-realtime")
    assert SECRET not in repr(config) and SECRET not in repr(config.access)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SSE_BUFFER_SIZE": "lots"}, "SSE_BUFFER_SIZE must be an integer"),
        ({"SSE_MAX_STREAMS_PER_CLIENT": "0"}, "SSE_MAX_STREAMS_PER_CLIENT must be >= 1"),
        ({"SSE_HEARTBEAT_SECONDS": "soon"}, "SSE_HEARTBEAT_SECONDS must be a number"),
        ({"WEBAPP_PUBSUB": "maybe"}, "WEBAPP_PUBSUB must be true or false"),
        ({"SSE_BUFFER_SIZE": "10", "SSE_CLIENT_QUEUE": "20"}, "must not exceed SSE_BUFFER_SIZE"),
        ({"SSE_TOKEN": "s3cret"}, "SSE_TOKEN is no longer supported"),
        ({"WEBAPP_TOKEN_KEYS": "s3cret"}, "WEBAPP_TOKEN_KEYS: not JSON"),
        ({"WEBAPP_TOKEN_KEYS": "{}"}, "WEBAPP_TOKEN_KEYS: must be a non-empty JSON object"),
        ({"WEBAPP_TOKEN_KEYS": '{"k": "short"}'}, "an HS256 secret needs at least 32"),
        ({"WEBAPP_TOKEN_KEYS": '{"k": "-----BEGIN PUBLIC KEY-----x"}'}, "not a PEM public key"),
        ({"WEBAPP_MARKET_DATA_OPEN": "sometimes"}, "WEBAPP_MARKET_DATA_OPEN must be true"),
        ({"K_SERVICE": "tote-webapp"}, "on Cloud Run .* set WEBAPP_TOKEN_KEYS"),
        ({"WEBAPP_TOKEN_LEEWAY_SECONDS": "301"}, "WEBAPP_TOKEN_LEEWAY_SECONDS must be between"),
        ({"WEBAPP_TOKEN_LEEWAY_SECONDS": "nan"}, "WEBAPP_TOKEN_LEEWAY_SECONDS must be between"),
        ({"WEBAPP_TOKEN_LEEWAY_SECONDS": "inf"}, "WEBAPP_TOKEN_LEEWAY_SECONDS must be between"),
        ({"WEBAPP_TOKEN_LEEWAY_SECONDS": "-1"}, "WEBAPP_TOKEN_LEEWAY_SECONDS must be >= 0"),
        ({"WEBAPP_QUERY_TOKENS": "perhaps"}, "WEBAPP_QUERY_TOKENS must be true or false"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_secrets_never_reach_error_messages() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"WEBAPP_TOKEN_KEYS": '{"k": "tooshort-secret"}'})
    assert "tooshort-secret" not in str(caught.value)


def test_cloud_run_starts_with_keys_or_open_market_data() -> None:
    assert Config.from_env({"K_SERVICE": "s", "WEBAPP_MARKET_DATA_OPEN": "true"}).access.enabled
    keys = json.dumps({"k": SECRET})
    assert Config.from_env({"K_SERVICE": "s", "WEBAPP_TOKEN_KEYS": keys}).access.enabled
    assert not Config.from_env({}).access.enabled  # local development: no access control


def test_docs_state_the_access_defaults() -> None:
    """The configuration table in docs/webapp.md says what ``from_env({})`` gives."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "webapp.md").read_text("utf-8")
    rows = {
        cells[0].strip("` "): cells[1].strip()
        for line in text.splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split("|")]
    }
    config = Config.from_env({})
    assert rows["WEBAPP_TOKEN_KEYS"] == "—" and config.token_keys is None
    assert rows["WEBAPP_MARKET_DATA_OPEN"] == "false" and config.market_data_open is False
    assert rows["WEBAPP_TOKEN_LEEWAY_SECONDS"] == str(int(config.token_leeway))
    assert rows["WEBAPP_TRUSTED_PROXY_HOPS"].startswith(str(config.trusted_proxy_hops))
    assert rows["WEBAPP_TOKEN_AUDIENCE`, `WEBAPP_TOKEN_ISSUER"] == (
        f"`{config.token_audience}`, `{config.token_issuer}`"
    )
    assert rows["WEBAPP_QUERY_TOKENS"] == "true (false on Cloud Run)"
    assert config.query_tokens and not Config.from_env(CLOUD_RUN).query_tokens
    leeway_row = next(line for line in text.splitlines() if "`WEBAPP_TOKEN_LEEWAY_SECONDS`" in line)
    assert f"at most {MAX_LEEWAY_SECONDS:g}" in leeway_row
    assert f"{MAX_TOKEN_TTL_SECONDS // 86400} days" in text  # the longest token life


def test_leeway_up_to_five_minutes() -> None:
    assert Config.from_env({}).access.leeway == 30.0
    assert Config.from_env({"WEBAPP_TOKEN_LEEWAY_SECONDS": "300"}).access.leeway == 300.0


def test_query_tokens_are_off_on_cloud_run_unless_asked_for() -> None:
    keys = json.dumps({"k": SECRET})
    local = Config.from_env({})
    assert local.access.query_tokens and not local.cloud_run
    cloud = Config.from_env({"K_SERVICE": "s", "WEBAPP_TOKEN_KEYS": keys})
    assert cloud.cloud_run and not cloud.access.query_tokens
    forced = {"K_SERVICE": "s", "WEBAPP_TOKEN_KEYS": keys, "WEBAPP_QUERY_TOKENS": "true"}
    assert Config.from_env(forced).access.query_tokens
    assert not Config.from_env({"WEBAPP_QUERY_TOKENS": "false"}).access.query_tokens


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
    assert (defaults.reorder_ms, defaults.replay_window_minutes) == (50, 30)
    with pytest.raises(ConfigError, match="SSE_REORDER_MS"):
        Config.from_env({"SSE_REORDER_MS": "-1"})


def test_reference_window_from_the_environment() -> None:
    assert Config.from_env({}).reference_window_hours == 24
    assert Config.from_env({"WEBAPP_REFERENCE_WINDOW_HOURS": "6"}).reference_window_hours == 6
    with pytest.raises(ConfigError, match="WEBAPP_REFERENCE_WINDOW_HOURS"):
        Config.from_env({"WEBAPP_REFERENCE_WINDOW_HOURS": "x"})


def test_reference_topic_keeps_the_reference_window() -> None:
    from tests.terraform.hcl import load

    config = load()
    retention = config.variable_default("reference_topic_retention")
    assert int(retention[:-1]) >= Config().reference_window_hours * 3600
