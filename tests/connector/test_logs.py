from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

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


def lines(stream: io.StringIO) -> list[dict]:
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
