"""One GraphQL request to Tote's HTTPS gateway, with the retry policy Tote's guide asks for.

The decisions are plain functions (:func:`new_request_id`, :func:`retryable`,
:func:`retry_delay`, :func:`parse_retry_after`); :class:`QueryClient` is the thin ``httpx``
shell around them.  Every request carries ``Authorization: Api-Key <key>``, a fresh
``X-Partner-Request-ID`` (Tote asks partners to log it, so support can find the request) and a
constant ``X-Partner-ID``.  A 429 or 5xx, a timeout or a refused connection is retried after
full-jitter exponential backoff, or after the server's ``Retry-After`` when it sent one; any
other status is final.  Log lines carry the operation, page, status, duration and request id,
never the key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connector.receive_clock import RECEIVE_CLOCK

__all__ = [
    "QueryClient",
    "QueryError",
    "QueryResponse",
    "new_request_id",
    "parse_retry_after",
    "retry_delay",
    "retryable",
]

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 120.0
"""A ``Retry-After`` longer than this is capped: a sweep should not stall for hours."""


class QueryError(RuntimeError):
    """A request failed for good (a final status, or retries exhausted); the message says why."""

    def __init__(self, message: str, status: int | None = None, request_id: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class QueryResponse:
    """A successful (2xx) response: the body exactly as received and when it was asked for."""

    status: int
    body: bytes
    request_id: str
    server_request_id: str
    started_at: datetime
    received_at: datetime
    duration: float
    attempts: int


def new_request_id() -> str:
    """A fresh ``X-Partner-Request-ID``: 32 lowercase hex characters (alphanumeric, ≤ 100)."""
    return uuid.uuid4().hex


def retryable(status: int) -> bool:
    """Whether an HTTP status is worth retrying: rate limited (429) or a server error (5xx)."""
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), capped at
    :data:`MAX_RETRY_AFTER`; ``None`` when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def retry_delay(
    attempt: int,
    retry_after: float | None,
    base: float,
    cap: float,
    draw: Callable[[], float] = random.random,
) -> float:
    """The wait before retry number ``attempt`` (1-based): the server's ``Retry-After`` when
    given (plus up to 10 % jitter so clients do not return in step), else full jitter up to
    ``min(cap, base * 2**(attempt-1))``."""
    if retry_after is not None:
        return retry_after * (1 + 0.1 * draw())
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 30))
    return draw() * ceiling


class QueryClient:
    """POSTs GraphQL documents to ``url``; one ``httpx.AsyncClient`` (connection pool) per
    instance, used from one event loop.  ``sleep`` is injectable so tests need not wait."""

    def __init__(
        self,
        url: str,
        authorization: str,
        partner_id: str,
        *,
        user_agent: str = "tote-realtime-connector",
        timeout: float = 10.0,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._headers = {"Content-Type": "application/json", "User-Agent": user_agent}
        if authorization:
            self._headers["Authorization"] = authorization
        if partner_id:
            self._headers["X-Partner-ID"] = partner_id
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self, document: str, variables: Mapping[str, Any], *, operation: str, page: int
    ) -> QueryResponse:
        """One page: retried on 429/5xx/transport errors; raises :class:`QueryError` when it
        cannot get a 2xx."""
        payload = {"query": document, "variables": dict(variables)}
        attempt = 0
        while True:
            attempt += 1
            request_id = new_request_id()
            started_at = RECEIVE_CLOCK.now()  # the page's as_of: on the frames' clock
            t0 = time.monotonic()
            retry_after: float | None = None
            try:
                resp = await self._http.post(
                    self.url,
                    json=payload,
                    headers={**self._headers, "X-Partner-Request-ID": request_id},
                )
            except httpx.HTTPError as exc:
                status: int | None = None
                reason = f"{type(exc).__name__}: {exc}"[:200]
            else:
                status = resp.status_code
                reason = f"HTTP {status}"
                duration = time.monotonic() - t0
                self._log(operation, page, status, duration, request_id, resp, attempt)
                if 200 <= status <= 299:
                    return QueryResponse(
                        status=status,
                        body=resp.content,
                        request_id=request_id,
                        server_request_id=resp.headers.get("X-Partner-Request-ID", ""),
                        started_at=started_at,
                        received_at=RECEIVE_CLOCK.now(),
                        duration=duration,
                        attempts=attempt,
                    )
                if not retryable(status):
                    raise QueryError(
                        f"{operation} page {page}: HTTP {status} {_snippet(resp.content)}",
                        status,
                        request_id,
                    )
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if status is None:
                log.warning(
                    "query %s page %d failed: %s",
                    operation,
                    page,
                    reason,
                    extra={
                        "json_fields": {
                            "operation": operation,
                            "page": page,
                            "request_id": request_id,
                            "duration_ms": round((time.monotonic() - t0) * 1000, 1),
                            "attempt": attempt,
                        }
                    },
                )
            if attempt > self.retries:
                raise QueryError(
                    f"{operation} page {page}: {reason} after {attempt} attempt(s)",
                    status,
                    request_id,
                )
            await self._sleep(
                retry_delay(attempt, retry_after, self.backoff_base, self.backoff_cap)
            )

    @staticmethod
    def _log(
        operation: str,
        page: int,
        status: int,
        duration: float,
        request_id: str,
        resp: httpx.Response,
        attempt: int,
    ) -> None:
        level = logging.INFO if 200 <= status <= 299 else logging.WARNING
        log.log(
            level,
            "query %s page %d: HTTP %d in %.0f ms (request id %s)",
            operation,
            page,
            status,
            duration * 1000,
            request_id,
            extra={
                "json_fields": {
                    "operation": operation,
                    "page": page,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                    "request_id": request_id,
                    "server_request_id": resp.headers.get("X-Partner-Request-ID", ""),
                    "bytes": len(resp.content),
                    "attempt": attempt,
                }
            },
        )


def _snippet(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace")
