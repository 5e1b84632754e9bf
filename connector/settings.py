"""Connector configuration, read from the environment in one place.

Cloud Run, Cloud Scheduler and the local system all configure the connector through environment
variables; nothing else in the package reads ``os.environ``.  Every default is chosen so a local
run against the simulator and the Pub/Sub emulator needs only ``TOTE_SUBSCRIPTIONS_URL``,
``TOTE_API_KEY`` and ``CONTROL_TOKEN``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit, urlunsplit

from connector.window import ALWAYS, RacingWindow, parse_window
from contract import catalog
from contract.settings import env_bool, env_float, env_int, env_list

__all__ = ["DEFAULT_TOTE_URL", "Settings", "SettingsError"]

DEFAULT_TOTE_URL = "wss://hub.production.racing.tote.co.uk/partner/connections/graphql/"


class SettingsError(ValueError):
    """A configuration value is present but unusable; the message names the variable."""


_float = partial(env_float, error=SettingsError)
_int = partial(env_int, error=SettingsError)
_bool = partial(env_bool, error=SettingsError)
_list = env_list


@dataclass(frozen=True)
class Settings:
    """Everything the connector can be told.  ``repr`` never shows the secrets."""

    tote_url: str = DEFAULT_TOTE_URL
    api_key: str = field(default="", repr=False)
    project: str = "local-project"
    ingress_topic: str = catalog.INGRESS_TOPIC
    control_token: str = field(default="", repr=False)
    allowed_invokers: tuple[str, ...] = ()
    oidc_audience: str = ""
    watchdog_seconds: float = 30.0
    watchdog_keepalives: float = 3.0
    client_ping_seconds: float = 5.0
    ack_timeout_seconds: float = 10.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 60.0
    stable_seconds: float = 60.0
    port: int = 8080
    capture_path: str = ""
    autostart: bool = False
    autostart_window: str = ""
    autostart_time_zone: str = "Europe/London"
    subscriptions: tuple[str, ...] = ()
    selections_file: str = ""
    buffer_size: int = 50_000
    batch_max_messages: int = 1000
    publish_workers: int = 2
    backpressure_seconds: float = 5.0
    flush_timeout_seconds: float = 6.0
    dead_letter_path: str = "/tmp/tote-connector/dead-letters.jsonl"
    dead_letter_log_frames: bool = False
    publish_timeout_seconds: float = 10.0
    user_agent: str = "tote-realtime-connector/0.1"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raises ``SettingsError``."""
        env = os.environ if env is None else env
        url = env.get("TOTE_SUBSCRIPTIONS_URL", "").strip() or DEFAULT_TOTE_URL
        if not url.startswith(("ws://", "wss://")):
            raise SettingsError(
                f"TOTE_SUBSCRIPTIONS_URL must be a ws:// or wss:// URL, got {url!r}"
            )
        project = (
            env.get("GOOGLE_CLOUD_PROJECT", "").strip()
            or env.get("PUBSUB_PROJECT", "").strip()
            or "local-project"
        )
        window = env.get("AUTOSTART_WINDOW", "").strip()
        zone = env.get("AUTOSTART_TIME_ZONE", "").strip() or "Europe/London"
        if window:
            try:
                parse_window(window, zone)
            except ValueError as exc:
                raise SettingsError(f"AUTOSTART_WINDOW / AUTOSTART_TIME_ZONE: {exc}") from None
        return cls(
            tote_url=url,
            api_key=env.get("TOTE_API_KEY", "").strip(),
            project=project,
            ingress_topic=env.get("INGRESS_TOPIC", "").strip() or catalog.INGRESS_TOPIC,
            control_token=env.get("CONTROL_TOKEN", "").strip(),
            allowed_invokers=tuple(e.lower() for e in _list(env, "ALLOWED_INVOKERS")),
            oidc_audience=env.get("OIDC_AUDIENCE", "").strip(),
            watchdog_seconds=_float(env, "WATCHDOG_SECONDS", 30.0, minimum=0.1),
            watchdog_keepalives=_float(env, "WATCHDOG_KEEPALIVES", 3.0, minimum=1.0),
            client_ping_seconds=_float(env, "CLIENT_PING_SECONDS", 5.0, minimum=0.0),
            ack_timeout_seconds=_float(env, "ACK_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            backoff_base_seconds=_float(env, "BACKOFF_BASE_SECONDS", 0.5, minimum=0.0),
            backoff_cap_seconds=_float(env, "BACKOFF_CAP_SECONDS", 60.0, minimum=0.0),
            stable_seconds=_float(env, "STABLE_SECONDS", 60.0, minimum=0.0),
            port=_int(env, "PORT", 8080, minimum=0),
            capture_path=env.get("CAPTURE_PATH", "").strip(),
            autostart=_bool(env, "AUTOSTART", False),
            autostart_window=window,
            autostart_time_zone=zone,
            subscriptions=_list(env, "CONNECTOR_SUBSCRIPTIONS"),
            selections_file=env.get("CONNECTOR_SELECTIONS_FILE", "").strip(),
            buffer_size=_int(env, "BUFFER_SIZE", 50_000, minimum=1),
            batch_max_messages=_int(env, "PUBLISH_BATCH_MAX_MESSAGES", 1000, minimum=1),
            publish_workers=_int(env, "PUBLISH_WORKERS", 2, minimum=1),
            backpressure_seconds=_float(env, "BACKPRESSURE_SECONDS", 5.0),
            flush_timeout_seconds=_float(env, "FLUSH_TIMEOUT_SECONDS", 6.0),
            dead_letter_path=env.get("DEAD_LETTER_PATH", "").strip()
            or "/tmp/tote-connector/dead-letters.jsonl",
            dead_letter_log_frames=_bool(env, "DEAD_LETTER_LOG_FRAMES", False),
            publish_timeout_seconds=_float(env, "PUBLISH_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
        )

    @property
    def racing_window(self) -> RacingWindow:
        """When ``AUTOSTART`` keeps the connector connected (always when no window is set)."""
        if not self.autostart_window:
            return ALWAYS
        return parse_window(self.autostart_window, self.autostart_time_zone)

    @property
    def authorization(self) -> str:
        """The ``Authorization`` value Tote expects (``Api-Key <key>``); a secret."""
        return f"Api-Key {self.api_key}" if self.api_key else ""

    @property
    def safe_url(self) -> str:
        """``tote_url`` without user info or query string (which could carry a credential)."""
        parts = urlsplit(self.tote_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line or an HTTP response."""
        parts = urlsplit(self.tote_url)
        url_parts = (parts.password or "", parts.query)
        return tuple(s for s in (self.api_key, self.control_token, *url_parts) if s)
