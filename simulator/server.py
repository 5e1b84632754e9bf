"""The simulator's websocket server and its HTTP control surface.

Websocket at ``/partner/connections/graphql/`` (Tote's path) speaking whichever of
``graphql-transport-ws`` / ``graphql-ws`` the client offers (or only ``--protocols``), with an
init timeout (4408) and keep-alives (``ka`` / ``ping``).  One generator task draws messages from
:class:`~simulator.racing.RaceDay` at ``rate`` per second (only while someone is
subscribed, so the day's content does not depend on connection timing) and sends each to every
subscription of its root field.

HTTP control (a side port, because the websocket port only understands ``GET``):
``GET /health``, ``GET /stats``, ``GET /state[?day=YYYY-MM-DD]`` (every entity's current state,
see :mod:`simulator.state`), ``POST /faults/drop``, ``/faults/silence?seconds=``,
``/faults/deaf?seconds=`` (the open sockets hear nothing while the day goes on),
``/faults/outage?seconds=`` (drop everyone, refuse connections, the day goes on),
``/faults/pause?seconds=`` (the day holds still; keep-alives continue),
``/faults/duplicate?count=``,
``/faults/malformed?count=``, ``/faults/close?code=``, and the query API's faults
``/faults/query-slow?seconds=&count=``, ``/faults/query-error?status=&count=``,
``/faults/query-rate-limit?count=&retry_after=``.  ``GET /health`` and ``GET /stats`` also answer
on the websocket port.

The same HTTP port serves the query API, ``POST /partner/gateway/graphql``
(:mod:`simulator.query_api`), from the state of every message generated so far.  The day is
the current Europe/London date unless ``day`` is set; ``advance`` generates that many messages
before anyone can connect, and ``always_run`` keeps the day going while nobody is subscribed
(Tote does not wait for a late subscriber).
With ``record_path`` every frame sent (data, duplicate, malformed) is appended as a JSON line, so
an end-to-end test can account for each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import itertools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from contract import catalog
from contract.queries import racing_day
from simulator.query_api import GRAPHQL_PATH, QueryFaults
from simulator.query_api import handle as handle_query
from simulator.racing import RaceDay
from simulator.session import Close, Send, ServerSession
from simulator.state import DayState

__all__ = ["PATH", "Simulator", "SimulatorConfig"]

log = logging.getLogger(__name__)

PATH = "/partner/connections/graphql/"
PROTOCOLS = ("graphql-transport-ws", "graphql-ws")


@dataclass
class SimulatorConfig:
    """How the simulated Tote behaves; see ``python -m simulator --help``."""

    seed: int = 1
    rate: float = 50.0
    api_key: str | None = None
    protocols: Sequence[str] = PROTOCOLS
    max_frames: int | None = None
    record_path: str = ""
    upgrade_auth: bool = True
    keepalive_seconds: float = 5.0
    init_timeout_seconds: float = 10.0
    fields: Sequence[str] = field(default_factory=lambda: [m.field for m in catalog.CATALOG])
    day: date | None = None
    advance: int = 0
    always_run: bool = False


@dataclass
class _Client:
    number: int
    ws: ServerConnection
    session: ServerSession
    deaf_until: float = 0.0  # this socket hears nothing until then (``/faults/deaf``)


class Simulator:
    """The running simulator; ``stats()`` and the ``fault_*`` coroutines are its control API."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clients: dict[int, _Client] = {}
        self._numbers = itertools.count(1)
        self.state = DayState()
        self.day = config.day or racing_day(datetime.now(UTC))
        self._messages = RaceDay(
            config.seed, start=self.day, on_meeting=self.state.add_meeting
        ).messages()
        self.query_faults = QueryFaults()
        self.advanced = 0
        self.lost = 0
        self._refuse_until = 0.0
        self._paused_until = 0.0
        self.generated = 0
        self.sent: Counter[str] = Counter()
        self.duplicates_sent = 0
        self.malformed_sent = 0
        self.connections_total = 0
        self.closes: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self._silent_until = 0.0
        self._duplicates = 0
        self._record: IO[str] | None = None
        self._seq = itertools.count(1)
        if config.record_path:
            Path(config.record_path).parent.mkdir(parents=True, exist_ok=True)
            self._record = open(config.record_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the server's life
        self.server: Server | None = None
        self._generator: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        for _ in range(self.config.advance):  # the day was already running before we started
            self.state.apply(next(self._messages))
            self.advanced += 1
        self.server = await serve(
            self._handler,
            host,
            port,
            subprotocols=[Subprotocol(p) for p in self.config.protocols],
            process_request=self._process_request,
            compression=None,
            max_queue=64,
        )
        self._generator = asyncio.create_task(self._generate())

    async def close(self) -> None:
        if self._generator:
            self._generator.cancel()
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        if self._record:
            self._record.close()
            self._record = None

    @property
    def done(self) -> bool:
        return self.config.max_frames is not None and self.generated >= self.config.max_frames

    def stats(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "done": self.done,
            "frames_sent": dict(self.sent),
            "frames_sent_total": sum(self.sent.values()),
            "duplicates_sent": self.duplicates_sent,
            "malformed_sent": self.malformed_sent,
            "connections": len(self.clients),
            "connections_total": self.connections_total,
            "subscriptions": sum(len(c.session.subscriptions) for c in self.clients.values()),
            "closes": dict(self.closes),
            "faults": dict(self.faults),
            "silent": time.monotonic() < self._silent_until,
            "deaf_connections": sum(
                1 for c in self.clients.values() if time.monotonic() < c.deaf_until
            ),
            "refusing": time.monotonic() < self._refuse_until,
            "lost_while_unheard": self.lost,
            "advanced": self.advanced,
            "day": self.day.isoformat(),
            "query": self.query_faults.stats(),
        }

    # -- websocket --------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path in ("/health", "/stats"):
            body = {"status": "ok"} if path == "/health" else self.stats()
            return _json_response(200, body)
        if path != PATH:
            return _json_response(404, {"error": f"no websocket at {path}; use {PATH}"})
        if time.monotonic() < self._refuse_until:
            return _json_response(503, {"error": "simulated outage"})
        auth = request.headers.get("Authorization")
        if auth is not None and self.config.api_key is not None and self.config.upgrade_auth:
            session = ServerSession(PROTOCOLS[0], self.config.api_key, ())
            if not session.authorised(auth):
                return _json_response(401, {"error": "Unauthorized"})
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        protocol = ws.subprotocol or "graphql-ws"
        client = _Client(
            next(self._numbers),
            ws,
            ServerSession(protocol, self.config.api_key, self.config.fields),
        )
        self.clients[client.number] = client
        self.connections_total += 1
        keepalive = asyncio.create_task(self._keepalive(client))
        init_timer = asyncio.create_task(self._init_timeout(client))
        try:
            async for text in ws:
                for action in client.session.receive(text):
                    if isinstance(action, Send):
                        if time.monotonic() < self._silent_until:
                            continue  # silent means silent: not even a pong for a ping
                        await ws.send(action.text)
                    elif isinstance(action, Close):
                        self.closes[str(action.code)] += 1
                        await ws.close(action.code, action.reason)
                        return
        except ConnectionClosed:
            pass
        finally:
            keepalive.cancel()
            init_timer.cancel()
            self.clients.pop(client.number, None)

    async def _init_timeout(self, client: _Client) -> None:
        await asyncio.sleep(self.config.init_timeout_seconds)
        if not client.session.initialised:
            self.closes["4408"] += 1
            await client.ws.close(4408, "Connection initialisation timeout")

    async def _keepalive(self, client: _Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.config.keepalive_seconds)
                now = time.monotonic()
                if client.session.initialised and now >= max(self._silent_until, client.deaf_until):
                    await client.ws.send(client.session.keepalive())

    # -- generation -------------------------------------------------------------------------------

    def _subscribed(self) -> bool:
        return any(c.session.subscriptions for c in self.clients.values())

    async def _generate(self) -> None:
        """Token bucket at ``rate`` messages/s, paused while silent or nobody subscribed."""
        rate = self.config.rate
        last = time.monotonic()
        credit = 0.0
        while not self.done:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            running = self.config.always_run or now < self._refuse_until or self._subscribed()
            if now < max(self._silent_until, self._paused_until) or not running:
                last, credit = now, 0.0
                continue
            credit = min(credit + (now - last) * rate, max(1.0, rate * 0.1))
            last = now
            while credit >= 1 and not self.done:
                credit -= 1
                await self._emit(next(self._messages))

    async def _emit(self, message: Any) -> None:
        self.generated += 1
        self.state.apply(message)
        now = time.monotonic()
        hearing = [
            c for c in self.clients.values() if c.session.subscriptions and now >= c.deaf_until
        ]
        if not hearing:
            self.lost += 1  # it happened; nobody heard it (a deaf socket, nobody connected)
            return
        payload_json = json.dumps(message.payload, separators=(",", ":"))
        for client in hearing:
            for text in client.session.data_frames(message.field, payload_json):
                await self._send(client, text, message.field, "data")
                if self._duplicates > 0:
                    self._duplicates -= 1
                    self.duplicates_sent += 1
                    await self._send(client, text, message.field, "duplicate")

    async def _send(self, client: _Client, text: str, field_name: str | None, kind: str) -> None:
        try:
            await client.ws.send(text)
        except ConnectionClosed:
            return
        if kind == "data":
            self.sent[field_name or "?"] += 1
        if self._record is not None:
            line = {
                "seq": next(self._seq),
                "connection": client.number,
                "kind": kind,
                "field": field_name,
                "frame": text,
            }
            self._record.write(json.dumps(line) + "\n")
            self._record.flush()

    # -- faults -----------------------------------------------------------------------------------

    async def fault_drop(self) -> int:
        """Drop every connection without a close frame (buffered frames are still delivered)."""
        self.faults["drop"] += 1
        clients = list(self.clients.values())
        for client in clients:
            self.clients.pop(client.number, None)  # nothing more is sent (or recorded) to it
            client.ws.transport.close()
        return len(clients)

    async def fault_silence(self, seconds: float) -> float:
        """Send nothing at all (no data, no keep-alive, no reply) for ``seconds``."""
        self.faults["silence"] += 1
        self._silent_until = time.monotonic() + seconds
        return seconds

    async def fault_deaf(self, seconds: float) -> int:
        """The open sockets go deaf for ``seconds``: the day goes on, but nothing (no data, no
        keep-alive) reaches them; a new connection hears normally.  Returns how many went deaf."""
        self.faults["deaf"] += 1
        until = time.monotonic() + seconds
        for client in self.clients.values():
            client.deaf_until = until
        return len(self.clients)

    async def fault_pause(self, seconds: float) -> float:
        """Nothing happens for ``seconds`` (keep-alives continue): the day's state holds still,
        e.g. so a benchmark can time convergence against a fixed truth."""
        self.faults["pause"] += 1
        self._paused_until = time.monotonic() + seconds
        return seconds

    async def fault_outage(self, seconds: float) -> int:
        """Drop every connection and refuse new ones (HTTP 503) for ``seconds`` while the day
        goes on: what happens meanwhile is lost to subscribers, as in a real outage."""
        self.faults["outage"] += 1
        self._refuse_until = time.monotonic() + seconds
        clients = list(self.clients.values())
        for client in clients:
            self.clients.pop(client.number, None)
            client.ws.transport.close()
        return len(clients)

    async def fault_query_slow(self, seconds: float, count: int) -> int:
        self.faults["query-slow"] += 1
        with self.query_faults._lock:
            self.query_faults.slow_seconds = seconds
            self.query_faults.slow_count += count
        return count

    async def fault_query_error(self, status: int, count: int) -> int:
        self.faults["query-error"] += 1
        with self.query_faults._lock:
            self.query_faults.error_status = status
            self.query_faults.error_count += count
        return count

    async def fault_query_rate_limit(self, count: int, retry_after: float) -> int:
        self.faults["query-rate-limit"] += 1
        with self.query_faults._lock:
            self.query_faults.retry_after = retry_after
            self.query_faults.rate_limit_count += count
        return count

    async def fault_duplicate(self, count: int) -> int:
        """Send each of the next ``count`` data frames twice."""
        self.faults["duplicate"] += 1
        self._duplicates += count
        return count

    async def fault_malformed(self, count: int) -> int:
        """Send ``count`` frames that are not valid JSON to every subscribed connection."""
        self.faults["malformed"] += 1
        for client in list(self.clients.values()):
            if client.session.subscriptions:
                for i in range(count):
                    self.malformed_sent += 1
                    await self._send(
                        client,
                        f'{{"type":"next","id":"1","payload":{{broken {i}',
                        None,
                        "malformed",
                    )
        return count

    async def fault_close(self, code: int, reason: str = "simulated close") -> int:
        """Close every connection with ``code`` (e.g. 4401 to test a fatal refusal)."""
        self.faults[f"close-{code}"] += 1
        clients = list(self.clients.values())
        for client in clients:
            self.clients.pop(client.number, None)
            self.closes[str(code)] += 1
            await client.ws.close(code, reason)
        return len(clients)

    # -- HTTP control -----------------------------------------------------------------------------

    def serve_control(  # noqa: C901 - the HTTP handler: each route is a small nested method
        self, host: str, port: int, loop: asyncio.AbstractEventLoop
    ) -> ThreadingHTTPServer:
        """Start the HTTP control server on its own thread; returns it (``shutdown()`` stops it)."""
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("control: " + format, *args)

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _graphql(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                delay, failing, retry_after = simulator.query_faults.take()
                if delay:
                    time.sleep(delay)
                if failing is not None:
                    simulator.query_faults.count(str(failing))
                    headers = {"Content-Type": "application/json"}
                    if retry_after is not None:
                        headers["Retry-After"] = f"{retry_after:g}"
                    message = "Too Many Requests" if failing == 429 else "simulated failure"
                    self._reply(failing, {"errors": [{"message": message}]}, headers)
                    return
                status, headers, data = handle_query(
                    self.headers.get("Authorization"),
                    self.headers.get("X-Partner-Request-ID"),
                    body,
                    simulator.config.api_key,
                    lambda fn: self._call(_value(lambda: fn(simulator.state))),
                )
                simulator.query_faults.count(str(status))
                self._reply(status, data, headers)

            def _call(self, coro: Any) -> Any:
                return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/health":
                    self._reply(200, {"status": "ok"})
                elif path == "/stats":
                    self._reply(200, self._call(_value(simulator.stats)))
                elif path == "/state":
                    raw = parse_qs(urlsplit(self.path).query).get("day", [""])[-1]
                    try:
                        day = date.fromisoformat(raw) if raw else None
                    except ValueError:
                        self._reply(400, {"error": f"day must be YYYY-MM-DD, got {raw!r}"})
                        return
                    self._reply(200, self._call(_value(lambda: simulator.state.snapshot(day))))
                else:
                    self._reply(404, {"error": f"unknown path {path}"})

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.rstrip("/") == GRAPHQL_PATH:
                    self._graphql()
                    return
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                try:
                    coro = simulator._fault(parts.path, query)
                except ValueError as exc:
                    self._reply(400, {"error": str(exc)})
                    return
                if coro is None:
                    self._reply(404, {"error": f"unknown fault {parts.path}"})
                    return
                self._reply(
                    200, {"fault": parts.path.rsplit("/", 1)[-1], "result": self._call(coro)}
                )

        httpd = ThreadingHTTPServer((host, port), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, name="simulator-control", daemon=True).start()
        return httpd

    def _fault(self, path: str, query: dict[str, str]) -> Any:  # noqa: C901 - one route per fault
        """The fault coroutine for ``path`` with validated parameters (``ValueError`` if bad)."""

        def number(
            name: str, default: float, kind: type = float, low: float = 0, high: float = 1e6
        ) -> Any:
            raw = query.get(name, str(default))
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {raw!r}") from None
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value}")
            return value

        if path == "/faults/drop":
            return self.fault_drop()
        if path == "/faults/silence":
            return self.fault_silence(number("seconds", 10.0, float, 0, 3600))
        if path == "/faults/deaf":
            return self.fault_deaf(number("seconds", 10.0, float, 0, 3600))
        if path == "/faults/pause":
            return self.fault_pause(number("seconds", 10.0, float, 0, 3600))
        if path == "/faults/outage":
            return self.fault_outage(number("seconds", 5.0, float, 0, 3600))
        if path == "/faults/query-slow":
            return self.fault_query_slow(
                number("seconds", 5.0, float, 0, 300), number("count", 1, int, 1, 10_000)
            )
        if path == "/faults/query-error":
            return self.fault_query_error(
                number("status", 500, int, 500, 599), number("count", 1, int, 1, 10_000)
            )
        if path == "/faults/query-rate-limit":
            return self.fault_query_rate_limit(
                number("count", 1, int, 1, 10_000), number("retry_after", 1.0, float, 0, 3600)
            )
        if path == "/faults/duplicate":
            return self.fault_duplicate(number("count", 1, int, 1, 100_000))
        if path == "/faults/malformed":
            return self.fault_malformed(number("count", 1, int, 1, 10_000))
        if path == "/faults/close":
            return self.fault_close(
                number("code", 1000, int, 1000, 4999), query.get("reason", "simulated close")
            )
        return None


async def _value(function: Any) -> Any:
    return function()


def _json_response(status: int, body: dict[str, Any]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return Response(status, http.HTTPStatus(status).phrase, headers, data)
