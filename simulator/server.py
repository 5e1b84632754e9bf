"""The simulator's websocket server and its HTTP control surface.

Websocket at ``/partner/connections/graphql/`` (Tote's path) speaking whichever of
``graphql-transport-ws`` / ``graphql-ws`` the client offers (or only ``--protocols``), with an
init timeout (4408) and keep-alives (``ka`` / ``ping``).  One generator task draws messages from
:class:`~simulator.racing.RaceDay` at ``rate`` per second (only while someone is
subscribed, so the day's content does not depend on connection timing) and sends each to every
subscription of its root field.

HTTP control (a side port, because the websocket port only understands ``GET``):
``GET /health``, ``GET /stats``, ``POST /faults/drop``, ``/faults/silence?seconds=``,
``/faults/duplicate?count=``, ``/faults/malformed?count=``, ``/faults/close?code=``.
``GET /health`` and ``GET /stats`` also answer on the websocket port.
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
from simulator.racing import RaceDay
from simulator.session import Close, Send, ServerSession

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


@dataclass
class _Client:
    number: int
    ws: ServerConnection
    session: ServerSession


class Simulator:
    """The running simulator; ``stats()`` and the ``fault_*`` coroutines are its control API."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clients: dict[int, _Client] = {}
        self._numbers = itertools.count(1)
        self._messages = RaceDay(config.seed).messages()
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
        }

    # -- websocket --------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path in ("/health", "/stats"):
            body = {"status": "ok"} if path == "/health" else self.stats()
            return _json_response(200, body)
        if path != PATH:
            return _json_response(404, {"error": f"no websocket at {path}; use {PATH}"})
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
                if client.session.initialised and time.monotonic() >= self._silent_until:
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
            if now < self._silent_until or not self._subscribed():
                last, credit = now, 0.0
                continue
            credit = min(credit + (now - last) * rate, max(1.0, rate * 0.1))
            last = now
            while credit >= 1 and not self.done:
                credit -= 1
                await self._emit(next(self._messages))

    async def _emit(self, message: Any) -> None:
        self.generated += 1
        payload_json = json.dumps(message.payload, separators=(",", ":"))
        for client in list(self.clients.values()):
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

    def serve_control(
        self, host: str, port: int, loop: asyncio.AbstractEventLoop
    ) -> ThreadingHTTPServer:
        """Start the HTTP control server on its own thread; returns it (``shutdown()`` stops it)."""
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("control: " + format, *args)

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _call(self, coro: Any) -> Any:
                return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/health":
                    self._reply(200, {"status": "ok"})
                elif path == "/stats":
                    self._reply(200, self._call(_value(simulator.stats)))
                else:
                    self._reply(404, {"error": f"unknown path {path}"})

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
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

    def _fault(self, path: str, query: dict[str, str]) -> Any:
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
