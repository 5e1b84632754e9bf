"""The web app's configuration, read from the environment in one place.

Every knob has a default that suits a small Cloud Run / VM instance, and a bad value stops the
app at start-up with a message naming the variable (never at the first request).  Secrets
(``WEBAPP_TOKEN_KEYS``) are kept out of ``repr`` so they never reach a log line.

Access (see ``webapp/access.py``): ``WEBAPP_TOKEN_KEYS`` turns on JWT verification;
``WEBAPP_MARKET_DATA_OPEN`` serves market streams to anonymous clients.  With neither set there
is no access control at all, which is for local development only: on Cloud Run (``K_SERVICE``
is set) that is refused at start-up, so a missing secret can never publish ``bet-lifecycle``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

from contract.settings import env_bool, env_float, env_int
from webapp.access import MAX_LEEWAY_SECONDS, AccessPolicy, Keyring, KeyringError

__all__ = ["Config", "ConfigError"]


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


_int = partial(env_int, error=ConfigError)
_float = partial(env_float, error=ConfigError)
_bool = partial(env_bool, error=ConfigError)


@dataclass(frozen=True)
class Config:
    """All settings of one web app instance.

    ``pubsub_enabled=False`` runs the app without Pub/Sub (unit tests, demos): events are then
    injected into the in-process bus directly.  ``max_streams`` must stay below the gunicorn
    thread count (``gunicorn_conf.py`` derives one from the other) so that ``/health`` always has
    a thread left.  ``cloud_run`` (``K_SERVICE`` is set): the session cookie is always
    ``Secure`` and ``?access_token=`` is refused unless ``WEBAPP_QUERY_TOKENS=true``.
    """

    project: str = "local-project"
    topic_prefix: str = ""
    pubsub_enabled: bool = True
    token_keys: Keyring | None = field(default=None, repr=False)
    market_data_open: bool = False
    token_audience: str = "tote-webapp"
    token_issuer: str = "tote-realtime"
    token_leeway: float = 30.0
    query_tokens: bool = True
    cloud_run: bool = False
    cors_origins: tuple[str, ...] = ()
    max_streams_per_client: int = 10
    max_streams: int = 1200
    buffer_size: int = 10_000
    client_queue: int = 10_000
    heartbeat_seconds: float = 15.0
    retry_ms: int = 3_000
    flush_interval: float = 0.05
    write_timeout: float = 10.0
    send_buffer_bytes: int = 0
    trusted_proxy_hops: int = 0
    subscription_ttl_days: int = 1
    port: int = 8080
    reorder_ms: int = 50
    replay_window_minutes: int = 30
    reference_window_hours: int = 24
    warmup_quiet_seconds: float = 1.0

    @property
    def access(self) -> AccessPolicy:
        return AccessPolicy(
            keyring=self.token_keys,
            market_open=self.market_data_open,
            audience=self.token_audience,
            issuer=self.token_issuer,
            leeway=self.token_leeway,
            query_tokens=self.query_tokens,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from ``env`` (default: ``os.environ``)."""
        env = os.environ if env is None else env
        origins = tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip())
        if env.get("SSE_TOKEN", "").strip():
            raise ConfigError(
                "SSE_TOKEN is no longer supported (one token gave every stream): set "
                "WEBAPP_TOKEN_KEYS and mint per-client tokens with python -m webapp.tokens"
            )
        raw_keys = env.get("WEBAPP_TOKEN_KEYS", "").strip()
        try:
            keys = Keyring.from_json(raw_keys) if raw_keys else None
        except KeyringError as exc:
            raise ConfigError(f"WEBAPP_TOKEN_KEYS: {exc}") from None
        market_open = _bool(env, "WEBAPP_MARKET_DATA_OPEN", False)
        cloud_run = bool(env.get("K_SERVICE", "").strip())
        if keys is None and not market_open and cloud_run:
            raise ConfigError(
                "on Cloud Run (K_SERVICE is set) set WEBAPP_TOKEN_KEYS and/or "
                "WEBAPP_MARKET_DATA_OPEN=true: without them every stream, bet-lifecycle "
                "included, would be public"
            )
        config = cls(
            project=env.get("GOOGLE_CLOUD_PROJECT", "").strip() or "local-project",
            topic_prefix=env.get("WEBAPP_TOPIC_PREFIX", "").strip(),
            pubsub_enabled=_bool(env, "WEBAPP_PUBSUB", True),
            token_keys=keys,
            market_data_open=market_open,
            token_audience=env.get("WEBAPP_TOKEN_AUDIENCE", "").strip() or "tote-webapp",
            token_issuer=env.get("WEBAPP_TOKEN_ISSUER", "").strip() or "tote-realtime",
            token_leeway=_leeway(env),
            # Cloud Run's request log records query strings: no tokens there by default.
            query_tokens=_bool(env, "WEBAPP_QUERY_TOKENS", not cloud_run),
            cloud_run=cloud_run,
            cors_origins=origins,
            max_streams_per_client=_int(env, "SSE_MAX_STREAMS_PER_CLIENT", 10, 1),
            max_streams=_int(env, "SSE_MAX_STREAMS", 1200, 1),
            buffer_size=_int(env, "SSE_BUFFER_SIZE", 10_000, 1),
            client_queue=_int(env, "SSE_CLIENT_QUEUE", _int(env, "SSE_BUFFER_SIZE", 10_000, 1), 1),
            heartbeat_seconds=_float(env, "SSE_HEARTBEAT_SECONDS", 15.0, 0.1),
            retry_ms=_int(env, "SSE_RETRY_MS", 3_000, 0),
            flush_interval=_float(env, "SSE_FLUSH_INTERVAL", 0.05, 0.0),
            write_timeout=_float(env, "SSE_WRITE_TIMEOUT", 10.0, 0.1),
            send_buffer_bytes=_int(env, "SSE_SEND_BUFFER_BYTES", 0, 0),
            trusted_proxy_hops=_int(env, "WEBAPP_TRUSTED_PROXY_HOPS", 0, 0),
            subscription_ttl_days=_int(env, "WEBAPP_SUBSCRIPTION_TTL_DAYS", 1, 1),
            port=_int(env, "PORT", 8080, 1),
            reorder_ms=_int(env, "SSE_REORDER_MS", 50, 0),
            replay_window_minutes=_int(env, "WEBAPP_REPLAY_WINDOW_MINUTES", 30, 0),
            reference_window_hours=_int(env, "WEBAPP_REFERENCE_WINDOW_HOURS", 24, 0),
            warmup_quiet_seconds=_float(env, "WEBAPP_WARMUP_QUIET_SECONDS", 1.0, 0.0),
        )
        if config.client_queue > config.buffer_size:
            raise ConfigError(
                f"SSE_CLIENT_QUEUE ({config.client_queue}) must not exceed SSE_BUFFER_SIZE "
                f"({config.buffer_size}): a client's queue is a window on the ring buffer"
            )
        return config


def _leeway(env: Mapping[str, str]) -> float:
    """``WEBAPP_TOKEN_LEEWAY_SECONDS``: clock skew, so at most :data:`MAX_LEEWAY_SECONDS`.

    Leeway lengthens every token's life (and every stream's), so a typo such as ``3000`` or
    ``inf`` would quietly make expired tokens valid; ``nan`` would make none ever expire.
    """
    return _float(env, "WEBAPP_TOKEN_LEEWAY_SECONDS", 30.0, 0.0, maximum=float(MAX_LEEWAY_SECONDS))
