from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from connector.logs import REDACTED, Redactor, configure_logging

KEY = "tote-key-5ecr3t-value"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging([KEY, "control-tok-999"], "DEBUG", stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_lines_are_cloud_logging_json(log_stream: io.StringIO) -> None:
    logging.getLogger("connector.test").warning(
        "hello %s", "world", extra={"json_fields": {"frame_id": "abc"}}
    )
    (entry,) = lines(log_stream)
    assert entry["severity"] == "WARNING" and entry["message"] == "hello world"
    assert entry["frame_id"] == "abc"
    assert entry["logging.googleapis.com/labels"] == {"service": "tote-connector"}
    assert entry["logging.googleapis.com/sourceLocation"]["function"] == (
        "test_lines_are_cloud_logging_json"
    )


def test_key_never_appears(log_stream: io.StringIO) -> None:
    log = logging.getLogger("connector.test")
    headers = {"Authorization": f"Api-Key {KEY}", "User-Agent": "x"}
    log.info("upgrade headers %s", headers)
    log.info("init %s", json.dumps({"payload": {"authorization": f"Api-Key {KEY}"}}))
    log.error("field", extra={"json_fields": {"headers": headers, "nested": [KEY]}})
    try:
        raise RuntimeError(f"server said {KEY}")
    except RuntimeError:
        log.exception("boom")
    log.info("bearer Bearer control-tok-999 and Api-Key some-other-key")
    text = log_stream.getvalue()
    assert KEY not in text and "control-tok-999" not in text and "some-other-key" not in text
    assert text.count(REDACTED) >= 6
    assert "RuntimeError" in lines(log_stream)[3]["message"]


def test_bad_format_string_still_logs(log_stream: io.StringIO) -> None:
    logging.getLogger("connector.test").info("broken %d", "not a number")
    assert "broken" in lines(log_stream)[0]["message"]


def test_redactor_patterns() -> None:
    r = Redactor(["abcd1234"])
    assert r("x abcd1234 y") == f"x {REDACTED} y"
    assert r('{"authorization": "Api-Key zzz"}') == f'{{"authorization": "Api-Key {REDACTED}"}}'
    assert r.value({"a": ["abcd1234", 3]}) == {"a": [REDACTED, 3]}
    assert Redactor(["ab"])("ab") == "ab"  # too short to be a secret: not scrubbed everywhere


def test_redactor_keeps_the_apis_own_texts_but_not_tokens() -> None:
    r = Redactor(["abcd1234"])
    for text in (
        "missing Authorization header (Bearer token expected)",
        "Authorization must be 'Bearer <token>'",
        "send Api-Key <key> in connection_init",
    ):
        assert r(text) == text
    assert r("Bearer eyJhbGciOi.eyJzdWIi.sig-nature") == f"Bearer {REDACTED}"
    assert r("Authorization: Bearer control-tok-999") == f"Authorization: Bearer {REDACTED}"
    assert r("bearer%20abcdefghijklmnopqrstu") == f"bearer%20{REDACTED}"
    assert r(f"Bearer {REDACTED}") == f"Bearer {REDACTED}"  # idempotent


def test_request_fields_from_cloud_run_trace_header() -> None:
    from connector.logs import request_fields

    fields = request_fields("105445AA7843BC8BF206B12000100000/1;o=1", "proj", "req-12345678")
    assert fields == {
        "request_id": "req-12345678",
        "logging.googleapis.com/trace": "projects/proj/traces/105445aa7843bc8bf206b12000100000",
        "logging.googleapis.com/spanId": "0000000000000001",
        "logging.googleapis.com/trace_sampled": True,
    }
    assert request_fields("not a trace", "proj", "r1") == {"request_id": "r1"}
    assert request_fields(None, "proj", "r1") == {"request_id": "r1"}


def test_lines_logged_inside_a_request_carry_its_fields(log_stream: io.StringIO) -> None:
    from connector.logs import bind_request

    log = logging.getLogger("connector.test")
    with bind_request({"request_id": "r-1", "logging.googleapis.com/trace": "projects/p/traces/t"}):
        log.info("inside")
    log.info("outside")
    inside, outside = (json.loads(line) for line in log_stream.getvalue().splitlines()[-2:])
    assert inside["request_id"] == "r-1"
    assert inside["logging.googleapis.com/trace"] == "projects/p/traces/t"
    assert "request_id" not in outside
