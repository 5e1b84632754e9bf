"""Structured Cloud Logging lines, redaction, and gunicorn's logger (no server)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.webapp.conftest import inject
from tests.webapp.messages import pool_total
from tests.webapp.servers import poll
from webapp.logs import (
    CloudFormatter,
    GunicornLogger,
    RequestContext,
    parse_trace_header,
    redact,
    request_context,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /events?access_token={JWT} HTTP/1.1",
        f"GET /events?types=pool-total&access_token={JWT}&x=1",
        f"GET /events?ACCESS_TOKEN={JWT}",
        f"GET /events?access%5Ftoken={JWT}",
        f"GET /events?access_token%3D{JWT}",
        f"Invalid Request Line 'GET /events?access_token={JWT} HTTP/1.1 junk'",
        f"Authorization: Bearer {JWT}",
        f"Cookie: tote_access_token={JWT}; other=1",
        f"a token {JWT} in free text",
    ],
)
def test_redact_removes_every_token(text: str) -> None:
    cleaned = redact(text)
    assert JWT not in cleaned and "eyJ" not in cleaned
    assert "[redacted]" in cleaned


def test_redact_keeps_other_text_and_non_jwt_query_tokens_by_name() -> None:
    assert redact("GET /events?types=pool-total") == "GET /events?types=pool-total"
    assert redact("/events?access_token=opaque123&types=x") == (
        "/events?access_token=[redacted]&types=x"
    )


def test_trace_header_parsing() -> None:
    assert parse_trace_header("105445aa7843bc8bf206b12000100000/1;o=1") == (
        "105445aa7843bc8bf206b12000100000",
        "0000000000000001",
        True,
    )
    assert parse_trace_header("105445aa7843bc8bf206b12000100000") == (
        "105445aa7843bc8bf206b12000100000",
        None,
        False,
    )
    for bad in (None, "", "xyz/1;o=1", "105445aa7843bc8bf206b12000100000/99999999999999999999999"):
        assert parse_trace_header(bad) is None


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("webapp.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_formatter_writes_cloud_logging_fields() -> None:
    formatter = CloudFormatter(project="proj-1")
    context = RequestContext.from_headers("105445aa7843bc8bf206b12000100000/7;o=1", None)
    token = request_context.set(context)
    try:
        line = formatter.format(
            _record("denied %s", f"?access_token={JWT}", json_fields={"event": "access-denied"})
        )
    finally:
        request_context.reset(token)
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "denied ?access_token=[redacted]"
    assert entry["logging.googleapis.com/trace"] == (
        "projects/proj-1/traces/105445aa7843bc8bf206b12000100000"
    )
    assert entry["logging.googleapis.com/spanId"] == "0000000000000007"
    assert entry["logging.googleapis.com/trace_sampled"] is True
    assert entry["request_id"] == "105445aa7843bc8bf206b12000100000"
    assert entry["event"] == "access-denied"


def test_request_id_from_header_only_when_well_formed() -> None:
    assert RequestContext.from_headers(None, "abc-123").request_id == "abc-123"
    generated = RequestContext.from_headers(None, "bad id with spaces" + JWT)
    assert len(generated.request_id) == 32 and JWT not in generated.request_id


def test_exceptions_are_one_redacted_line() -> None:
    try:
        raise ValueError(f"boom {JWT}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(CloudFormatter().format(record))
    assert entry["severity"] == "ERROR" and "Traceback" in entry["message"]
    assert JWT not in entry["message"]


def _gunicorn_logger() -> GunicornLogger:
    cfg = SimpleNamespace(
        loglevel="info",
        errorlog="-",
        accesslog="-",
        syslog=False,
        logconfig=None,
        logconfig_dict={},
        logconfig_json=None,
        capture_output=False,
        disable_redirect_access_to_syslog=False,
        user=0,
        group=0,
    )
    return GunicornLogger(cfg)


def test_gunicorn_access_log_is_json_with_the_path_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = _gunicorn_logger()
    req = SimpleNamespace(
        headers=[
            ("X-CLOUD-TRACE-CONTEXT", "105445aa7843bc8bf206b12000100000/1;o=0"),
            ("USER-AGENT", "curl/8"),
        ],
        path="/events",
        method="GET",
    )
    resp = SimpleNamespace(status="401 UNAUTHORIZED", sent=57, headers=[("X-Request-Id", "r-1")])
    environ = {
        "PATH_INFO": "/events",
        "QUERY_STRING": f"access_token={JWT}",
        "REQUEST_METHOD": "GET",
        "REMOTE_ADDR": "10.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    logger.access(resp, req, environ, timedelta(milliseconds=12))
    logger.warning(
        f"Invalid request from ip=1.2.3.4: Invalid HTTP Version 'GET /?access_token={JWT}'"
    )
    out = capsys.readouterr()
    text = out.out + out.err
    assert JWT not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = next(line for line in lines if "httpRequest" in line)
    assert access["httpRequest"]["requestUrl"] == "/events"
    assert access["httpRequest"]["status"] == 401
    assert access["httpRequest"]["latency"] == "0.012s"
    assert access["request_id"] == "r-1"
    assert access["logging.googleapis.com/trace"].endswith("105445aa7843bc8bf206b12000100000")
    warning = next(line for line in lines if line["severity"] == "WARNING")
    assert "access_token=[redacted]" in warning["message"]


def test_every_response_carries_a_request_id(client: FlaskClient) -> None:
    traced = client.get(
        "/health", headers={"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}
    )
    assert traced.headers["X-Request-Id"] == "105445aa7843bc8bf206b12000100000"
    assert (
        client.get("/nope", headers={"X-Request-Id": "mine-1"}).headers["X-Request-Id"] == "mine-1"
    )
    assert len(client.get("/health").headers["X-Request-Id"]) == 32


def test_a_dropped_slow_client_is_logged_with_the_field_the_alert_counts(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(buffer_size=20, client_queue=5, write_timeout=0.4)
    runtime = app.extensions["tote"]
    response = app.test_client().get("/events")
    next(response.iter_encoded())  # connected, then never reads
    with caplog.at_level(logging.WARNING, logger="webapp.runtime"):
        for i in range(10):
            inject(app, pool_total(str(i)))
        assert poll(lambda: runtime.bus.stats().dropped_clients == 1, timeout=30)
        assert poll(lambda: any(hasattr(r, "json_fields") for r in caplog.records), timeout=10)
    (record,) = [r for r in caplog.records if hasattr(r, "json_fields")]
    entry = json.loads(CloudFormatter().format(record))
    assert entry["event"] == "sse-client-dropped" and entry["severity"] == "WARNING"
    response.close()
