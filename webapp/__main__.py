"""``python -m webapp``: serve the web app with gunicorn and ``webapp/gunicorn_conf.py``.

The web app is configured by environment variables (read in ``webapp/config.py`` and, for
gunicorn's bind address and log level, ``webapp/gunicorn_conf.py``): ``--help`` lists them with
their defaults.  Any other argument goes to gunicorn; ``--gunicorn-help`` shows gunicorn's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("GOOGLE_CLOUD_PROJECT", "local-project", "project of the typed topics"),
    ("PUBSUB_EMULATOR_HOST", "", "honoured by the Pub/Sub client (local runs, tests)"),
    ("WEBAPP_TOPIC_PREFIX", "", "prefix of the typed topic names"),
    ("WEBAPP_PUBSUB", "true", "false: no Pub/Sub; events are injected into the bus (tests)"),
    ("WEBAPP_TOKEN_KEYS", "", 'keyring JSON {"<kid>": "<key>"} for access tokens'),
    ("WEBAPP_MARKET_DATA_OPEN", "false", "true: anonymous clients get the market streams"),
    ("WEBAPP_TOKEN_AUDIENCE", "tote-webapp", "the aud an access token must carry"),
    ("WEBAPP_TOKEN_ISSUER", "tote-realtime", "the iss an access token must carry"),
    ("WEBAPP_TOKEN_LEEWAY_SECONDS", "30", "clock skew tolerated on exp/nbf"),
    ("WEBAPP_QUERY_TOKENS", "true", "whether ?access_token= is read (default false on Cloud Run)"),
    ("K_SERVICE", "", "set by Cloud Run: then WEBAPP_TOKEN_KEYS or MARKET_DATA_OPEN is required"),
    ("CORS_ORIGINS", "", "comma-separated allowed origins, or *"),
    ("SSE_MAX_STREAMS_PER_CLIENT", "10", "concurrent streams per client address (then 429)"),
    ("SSE_MAX_STREAMS", "1200", "streams per instance (then 503); sets gunicorn's threads"),
    ("SSE_BUFFER_SIZE", "10000", "events kept for Last-Event-ID replay"),
    ("SSE_CLIENT_QUEUE", "SSE_BUFFER_SIZE", "events a client may fall behind before it is dropped"),
    ("SSE_HEARTBEAT_SECONDS", "15", "comment line after this long idle"),
    ("SSE_RETRY_MS", "3000", "retry: sent at the start of every stream"),
    ("SSE_FLUSH_INTERVAL", "0.05", "dispatcher tick (seconds): events are written in batches"),
    ("SSE_WRITE_TIMEOUT", "10", "seconds without write progress before a client is dropped"),
    ("SSE_SEND_BUFFER_BYTES", "0", "SO_SNDBUF per stream (0: the kernel's)"),
    ("WEBAPP_TRUSTED_PROXY_HOPS", "0", "proxies appending to X-Forwarded-For (Cloud Run: 1)"),
    ("WEBAPP_SUBSCRIPTION_TTL_DAYS", "1", "expiration of the per-instance subscriptions"),
    ("SSE_REORDER_MS", "50", "reorder window: hold until publish+fastest transit+this (0: none)"),
    ("WEBAPP_REPLAY_WINDOW_MINUTES", "30", "warm-up: seek the subscriptions back this far"),
    ("WEBAPP_REFERENCE_WINDOW_HOURS", "24", "how far back tote-reference is replayed"),
    ("WEBAPP_WARMUP_QUIET_SECONDS", "1.0", "warm-up ends after this long without old messages"),
    ("PORT", "8080", "port gunicorn listens on"),
    ("WEBAPP_HOST", "0.0.0.0", "address gunicorn listens on"),
    ("WEBAPP_LOG_LEVEL", "info", "gunicorn log level"),
)
"""(variable, default, meaning); ``tests/webapp/test_main_help.py`` checks them against the code."""


def help_text() -> str:
    """The web app's own ``--help``: usage and every setting with its default."""
    width = max(len(name) for name, _, _ in SETTINGS)
    lines = [
        "usage: python -m webapp [--help] [--gunicorn-help] [gunicorn options]",
        "",
        "Serves the SSE endpoints and the dashboard with gunicorn (webapp/gunicorn_conf.py).",
        "",
        f"  {'environment':<{width}}  {'default':<15}  meaning",
    ]
    for name, default, meaning in SETTINGS:
        lines.append(f"  {name:<{width}}  {default or '(unset)':<15}  {meaning}")
    lines += ["", "--gunicorn-help shows gunicorn's own options (they rarely need changing)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if "-h" in args or "--help" in args:
        print(help_text())
        return
    args = ["--help" if a == "--gunicorn-help" else a for a in args]
    from gunicorn.app.wsgiapp import run

    conf = Path(__file__).with_name("gunicorn_conf.py")
    sys.argv = ["gunicorn", "-c", str(conf), *args, "webapp.app:create_app()"]
    run()


if __name__ == "__main__":
    main()
