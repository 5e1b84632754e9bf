"""Structured JSON logs for Cloud Logging, with secrets redacted.

Cloud Run ships stdout lines to Cloud Logging, which reads ``severity``, ``message``,
``logging.googleapis.com/labels`` and ``logging.googleapis.com/sourceLocation`` from a JSON line.
Redaction happens twice on purpose: a filter scrubs the record (message, arguments, extra
fields, traceback) before any handler sees it, and the formatter scrubs the final line, so the
API key cannot leak even when someone logs a header dict or an exception that quotes it.  What
is redacted is actual secrets: the configured values, and credential-shaped tokens after
``Api-Key``/``Bearer`` (see ``_looks_like_credential``), not words such as the API's own
"Bearer token expected".

Lines logged while a control-API request is handled carry Cloud Logging's
``logging.googleapis.com/trace`` / ``spanId`` (from Cloud Run's ``X-Cloud-Trace-Context``) and a
``request_id`` (``bind_request``), so one request's lines can be found together.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import IO, Any

from contract.cloud_logging import parse_trace_header, severity

__all__ = [
    "JsonFormatter",
    "RedactionFilter",
    "Redactor",
    "bind_request",
    "configure_logging",
    "enter_request",
    "leave_request",
    "request_fields",
]

REDACTED = "[REDACTED]"

_CREDENTIAL = re.compile(r"(?i)\b(api-key|bearer)(\s+|%20)([^\s\"',;}\]]+)")
_SECRET_CHARS = re.compile(r"[0-9\-_.~+/=]")


def _looks_like_credential(scheme: str, value: str) -> bool:
    """A token after ``Api-Key``/``Bearer`` that could be a secret, not prose or a placeholder.

    Whatever follows ``Api-Key`` is a key unless it is a placeholder (``<key>``).  After
    ``Bearer`` the API's own texts put words (``Bearer token expected``): there, only values
    shaped like tokens count (long, or mixing in digits/symbols, as keys and JWTs do).
    """
    if value.startswith(("<", REDACTED[:-1])):
        return False
    if scheme.lower() == "api-key":
        return True
    return len(value) >= 16 or (len(value) >= 4 and bool(_SECRET_CHARS.search(value)))


class Redactor:
    """Removes known secret values and anything shaped like an ``Authorization`` value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _CREDENTIAL.sub(
            lambda m: (
                f"{m.group(1)}{m.group(2)}{REDACTED}"
                if _looks_like_credential(m.group(1), m.group(3))
                else m.group(0)
            ),
            text,
        )

    def value(self, value: Any) -> Any:
        """Redact strings anywhere inside a JSON-like value."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


_REQUEST: ContextVar[dict[str, Any] | None] = ContextVar("connector_request", default=None)


def request_fields(trace_header: str | None, project: str, request_id: str) -> dict[str, Any]:
    """Cloud Logging fields for one request (``X-Cloud-Trace-Context: TRACE/SPAN;o=1``).

    A malformed header is ignored (it is client input): only ``request_id`` is kept then.
    """
    fields: dict[str, Any] = {"request_id": request_id}
    parsed = parse_trace_header(trace_header)
    if parsed:
        trace, span, sampled = parsed
        fields["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace}"
        if span:
            fields["logging.googleapis.com/spanId"] = span
        fields["logging.googleapis.com/trace_sampled"] = sampled
    return fields


@contextmanager
def bind_request(fields: dict[str, Any]) -> Iterator[None]:
    """Add ``fields`` to every line this thread logs until the block ends."""
    token = _REQUEST.set(fields)
    try:
        yield
    finally:
        _REQUEST.reset(token)


def enter_request(fields: dict[str, Any]) -> Token[dict[str, Any] | None]:
    """``bind_request`` split for frameworks with separate before/after hooks (Flask)."""
    return _REQUEST.set(fields)


def leave_request(token: Token[dict[str, Any] | None]) -> None:
    _REQUEST.reset(token)


class RedactionFilter(logging.Filter):
    """Scrubs a record in place: rendered message, extra ``json_fields`` and traceback."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redactor(message), ()
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            record.json_fields = self.redactor.value(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        bound = _REQUEST.get()
        if bound and not hasattr(record, "request_fields"):
            record.request_fields = bound
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with Cloud Logging's special fields."""

    def __init__(self, redactor: Redactor, labels: dict[str, str] | None = None) -> None:
        super().__init__()
        self.redactor = redactor
        self.labels = labels or {}

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        entry: dict[str, Any] = {
            "severity": severity(record.levelno),
            "message": message,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            "logging.googleapis.com/labels": self.labels,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": str(record.lineno),
                "function": record.funcName,
            },
        }
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        for key, value in (getattr(record, "request_fields", None) or {}).items():
            entry.setdefault(key, value)
        return self.redactor(json.dumps(entry, default=str))


def configure_logging(
    secrets: Iterable[str] = (),
    level: str = "INFO",
    stream: IO[str] | None = None,
    labels: dict[str, str] | None = None,
) -> logging.Handler:
    """Send every log record (ours, websockets', gunicorn's) as redacted JSON to ``stream``."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.addFilter(RedactionFilter(redactor))
    handler.setFormatter(JsonFormatter(redactor, labels or {"service": "tote-connector"}))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_tote_connector", False):
            root.removeHandler(old)
    handler._tote_connector = True  # type: ignore[attr-defined]  # our marker, found above
    root.addHandler(handler)
    root.setLevel(level)
    # websockets logs every frame at DEBUG (with headers): never that verbose in production.
    logging.getLogger("websockets").setLevel(max(logging.INFO, root.level))
    return handler
