"""Cloud Logging's structured-log vocabulary, shared by both HTTP services.

The connector and the web app each write one JSON object per log line; what Cloud Logging reads
from it — the severity names and the trace of Cloud Run's ``X-Cloud-Trace-Context`` header — is
defined once here (standard library only, like the rest of :mod:`contract`).
"""

from __future__ import annotations

import logging
import re

__all__ = ["parse_trace_header", "severity"]

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?$")


def severity(levelno: int) -> str:
    """Cloud Logging's severity name for a :mod:`logging` level (``DEFAULT`` for custom ones)."""
    return _SEVERITY.get(levelno, "DEFAULT")


def parse_trace_header(value: str | None) -> tuple[str, str | None, bool] | None:
    """``X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1`` → (trace, span as 16 hex, sampled), or
    ``None`` when absent or malformed (it is client input: a bad one is ignored, never fatal)."""
    if not value:
        return None
    match = _TRACE.match(value.strip())
    if not match:
        return None
    span = match.group(2)
    span_hex = f"{int(span):016x}" if span and int(span) < 2**64 else None
    return match.group(1).lower(), span_hex, match.group(3) == "1"
