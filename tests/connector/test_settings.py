from __future__ import annotations

import pytest

from connector.settings import DEFAULT_TOTE_URL, Settings, SettingsError
from contract import catalog


def test_defaults_need_no_environment() -> None:
    s = Settings.from_env({})
    assert s.tote_url == DEFAULT_TOTE_URL
    assert s.ingress_topic == catalog.INGRESS_TOPIC
    assert s.autostart is False
    assert s.subscriptions == ()
    assert s.authorization == ""


def test_reads_every_variable() -> None:
    s = Settings.from_env(
        {
            "TOTE_SUBSCRIPTIONS_URL": "ws://127.0.0.1:9/partner/connections/graphql/",
            "TOTE_API_KEY": "k123456",
            "GOOGLE_CLOUD_PROJECT": "proj",
            "INGRESS_TOPIC": "t",
            "CONTROL_TOKEN": "ctl-token",
            "ALLOWED_INVOKERS": "Scheduler@proj.iam.gserviceaccount.com, other@x.com",
            "WATCHDOG_SECONDS": "2.5",
            "PORT": "9001",
            "CAPTURE_PATH": "/tmp/c.jsonl",
            "AUTOSTART": "true",
            "CONNECTOR_SUBSCRIPTIONS": "onPoolTotalChanged, onProductStatusChanged",
        }
    )
    assert s.authorization == "Api-Key k123456"
    assert s.project == "proj" and s.ingress_topic == "t" and s.port == 9001
    assert s.allowed_invokers == ("scheduler@proj.iam.gserviceaccount.com", "other@x.com")
    assert s.watchdog_seconds == 2.5 and s.autostart is True
    assert s.subscriptions == ("onPoolTotalChanged", "onProductStatusChanged")
    assert s.capture_path == "/tmp/c.jsonl"


def test_repr_hides_secrets() -> None:
    s = Settings.from_env({"TOTE_API_KEY": "k-very-secret", "CONTROL_TOKEN": "ctl-secret"})
    assert "k-very-secret" not in repr(s) and "ctl-secret" not in repr(s)
    assert set(s.secrets) == {"k-very-secret", "ctl-secret"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WATCHDOG_SECONDS", "soon"),
        ("WATCHDOG_SECONDS", "0"),
        ("PORT", "80.5"),
        ("AUTOSTART", "maybe"),
        ("TOTE_SUBSCRIPTIONS_URL", "https://example.com/"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_url_credentials_are_kept_out_of_sight() -> None:
    s = Settings.from_env(
        {
            "TOTE_SUBSCRIPTIONS_URL": "wss://user:pw-123456@hub.example:8443/partner/graphql/?token=tk-9876543"
        }
    )
    assert s.safe_url == "wss://hub.example:8443/partner/graphql/"
    assert "pw-123456" in s.secrets and "token=tk-9876543" in s.secrets
