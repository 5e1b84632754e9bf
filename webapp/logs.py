"""Cloud Logging structured JSON for every log line of the web app, with tokens redacted.

Cloud Run parses a JSON line on stdout/stderr into a log entry: ``severity`` and ``message``
become the entry's own fields, ``logging.googleapis.com/trace`` ties the line to the request's
trace (so the Logs Explorer groups a request's lines under Cloud Run's request log), and the
rest lands in ``jsonPayload`` where log-based metrics can count a field (``event``).

One formatter serves the app's loggers and gunicorn's error and access logs
(:class:`GunicornLogger`, set as ``logger_class`` in ``gunicorn_conf.py``).  Every line passes
:func:`redact` first: the value of any ``access_token`` parameter (also percent-encoded, also
the ``tote_access_token`` cookie), ``Bearer`` credentials and anything shaped like a JWT.  That
covers the request line gunicorn prints for a malformed request, which no access-log format
setting controls.  The access log records the path only, never the query string.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging

from contract.cloud_logging import parse_trace_header, severity

__all__ = [
    "CloudFormatter",
    "GunicornLogger",
    "RequestContext",
    "configure",
    "parse_trace_header",
    "redact",
    "request_context",
]

REDACTED = "[redacted]"
_SECRET_PARAM = re.compile(
    r"((?:tote(?:_|%5f))?access(?:_|%5f)token(?:=|%3d))[^&\s\"'#;,]*", re.IGNORECASE
)
_BEARER = re.compile(r"(bearer\s+)[^\s\"',;]+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def redact(text: str) -> str:
    """``text`` with every token-like secret replaced by ``[redacted]``."""
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _JWT.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class RequestContext:
    """What every log line of one request carries: its request id and trace."""

    __slots__ = ("request_id", "sampled", "span_id", "trace_id")

    def __init__(
        self,
        request_id: str,
        trace_id: str | None = None,
        span_id: str | None = None,
        sampled: bool = False,
    ) -> None:
        self.request_id = request_id
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled

    @classmethod
    def from_headers(cls, trace_header: str | None, request_id: str | None) -> RequestContext:
        trace = parse_trace_header(trace_header)
        if request_id and _REQUEST_ID.match(request_id):
            rid = request_id
        else:
            rid = trace[0] if trace else uuid.uuid4().hex
        if trace is None:
            return cls(rid)
        return cls(rid, *trace)


request_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)


class CloudFormatter(logging.Formatter):
    """One JSON object per line in Cloud Logging's structured format, secrets redacted.

    Extra fields come from ``extra={"json_fields": {...}}`` (the convention of Google's own
    logging library); ``extra={"http_request": {...}}`` becomes the entry's ``httpRequest``.
    """

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self.project = project or os.environ.get("GOOGLE_CLOUD_PROJECT", "").strip() or None

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        elif record.stack_info:
            message = f"{message}\n{record.stack_info}"
        entry: dict[str, Any] = {
            "severity": severity(record.levelno),
            "message": redact(message),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        context = getattr(record, "request_context", None) or request_context.get()
        if context is not None:
            entry["request_id"] = context.request_id
            if context.trace_id:
                trace = context.trace_id
                entry["logging.googleapis.com/trace"] = (
                    f"projects/{self.project}/traces/{trace}" if self.project else trace
                )
                if context.span_id:
                    entry["logging.googleapis.com/spanId"] = context.span_id
                entry["logging.googleapis.com/trace_sampled"] = context.sampled
        http_request = getattr(record, "http_request", None)
        if isinstance(http_request, Mapping):
            entry["httpRequest"] = _redact_value(http_request)
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                entry.setdefault(str(key), _redact_value(value))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _uses_cloud_format(handlers: Iterable[logging.Handler]) -> bool:
    return any(isinstance(h.formatter, CloudFormatter) for h in handlers)


def configure(project: str | None = None, level: int = logging.INFO) -> None:
    """Route the root logger (the app's own lines) through :class:`CloudFormatter`, once."""
    root = logging.getLogger()
    if not _uses_cloud_format(root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(CloudFormatter(project))
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    name = name.upper()
    return next((value for key, value in headers if key.upper() == name), None)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with Cloud Logging JSON on both logs and a path-only access log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(CloudFormatter())

    def access(self, resp: Any, req: Any, environ: Mapping[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        try:
            status = int(str(getattr(resp, "status", "0")).split(None, 1)[0] or 0)
        except ValueError:
            status = 0
        path = str(environ.get("PATH_INFO") or getattr(req, "path", "") or "")
        method = str(environ.get("REQUEST_METHOD") or getattr(req, "method", "") or "-")
        req_headers = list(getattr(req, "headers", []) or [])
        resp_headers = list(getattr(resp, "headers", []) or [])
        context = RequestContext.from_headers(
            _header(req_headers, "X-Cloud-Trace-Context"),
            _header(resp_headers, "X-Request-Id"),
        )
        seconds = request_time.total_seconds() if hasattr(request_time, "total_seconds") else 0
        http_request = {
            "requestMethod": method,
            "requestUrl": path,  # never the query string: it may carry ?access_token=
            "status": status,
            "responseSize": str(getattr(resp, "sent", 0) or 0),
            "userAgent": _header(req_headers, "User-Agent") or "",
            "remoteIp": str(environ.get("REMOTE_ADDR", "")),
            "protocol": str(environ.get("SERVER_PROTOCOL", "")),
            "latency": f"{seconds:.3f}s",
        }
        try:
            self.access_log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={"http_request": http_request, "request_context": context},
            )
        except Exception:  # noqa: BLE001 - a log line must never fail the request; logged
            self.exception("access log line failed")
