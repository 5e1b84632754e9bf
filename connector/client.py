"""The websocket shell: connect to Tote, subscribe, forward frames, reconnect.

All protocol decisions come from ``connector.protocol`` (frame classification),
``connector.backoff`` (delays) and ``connector.forwarder`` (buffering, publishing); this module
only moves frames between the socket and those objects and keeps ``/status`` up to date.

Liveness is judged from GraphQL traffic (data, ``ka``, ``ping``, ``pong``), because
websocket-level pings may still be answered by a server whose GraphQL layer went quiet: on
graphql-transport-ws the client sends its own ``ping`` every ``CLIENT_PING_SECONDS``, and a
watchdog closes the socket when nothing arrived for ``WATCHDOG_KEEPALIVES`` times the observed
keep-alive interval (``connector.liveness``; at most ``WATCHDOG_SECONDS``).  Fatal closes (bad
key, duplicate id, too many inits) end the retry loop instead of hammering Tote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from connector.backoff import Backoff
from connector.forwarder import Forwarder, Frame
from connector.liveness import Liveness
from connector.protocol import (
    GRAPHQL_WS,
    ClientProtocol,
    EventKind,
    describe_close,
    is_fatal_close,
)
from connector.receive_clock import RECEIVE_CLOCK
from connector.settings import Settings
from connector.status import ConnectorStatus, State
from connector.subscriptions import Subscription
from contract.ingress import MAX_FRAME_BYTES, PROTOCOLS, ingress_attributes, new_id

__all__ = ["FatalConnectionError", "ToteClient"]

log = logging.getLogger(__name__)


class FatalConnectionError(RuntimeError):
    """Tote refused us in a way a retry cannot fix; the message says how."""


class SessionEnded(Exception):
    """A connection ended for a retryable reason (the message)."""


class ToteClient:
    """Runs connections one after another until stopped or refused for good."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: Sequence[Subscription],
        forwarder: Forwarder,
        status: ConnectorStatus,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.forwarder = forwarder
        self.status = status
        self.backoff = backoff or Backoff(
            settings.backoff_base_seconds, settings.backoff_cap_seconds, settings.stable_seconds
        )
        self.on_subscribed: Callable[[], None] | None = None
        """Called (loop thread) after every successful subscribe: the reconciliation hook."""
        self._stop = asyncio.Event()
        self._receiving = False
        self._liveness = Liveness(time.monotonic(), cap=settings.watchdog_seconds)

    def request_stop(self) -> None:
        """Ask the loop to close the socket, forward what was received, and end.  Loop thread."""
        self._stop.set()

    async def run(self) -> None:
        """Connect, and reconnect with backoff, until stopped or a fatal refusal."""
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self._receiving = False
                reason = await self._one_connection()
                if self._stop.is_set():
                    break
                lasted = time.monotonic() - started if self._receiving else 0.0
                self.backoff.connection_ended(lasted)
                delay = self.backoff.next_delay()
                self.status.reconnecting(reason)
                log.warning(
                    "connection ended (%s); reconnecting in %.2fs",
                    reason,
                    delay,
                    extra={"json_fields": {"reason": reason, "delay_s": round(delay, 3)}},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        except FatalConnectionError as exc:
            self.status.update(state=State.FAILED, fatal=str(exc), connected_since=None)
            log.error("not reconnecting: %s", exc, extra={"json_fields": {"fatal": str(exc)}})
            return
        self.status.update(state=State.STOPPED, connected_since=None)
        log.info("connector stopped")

    async def _one_connection(self) -> str:
        """One connection from connect to close; returns why it ended (retryable)."""
        session = asyncio.create_task(self._session())
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not session.done() and not self._receiving:
                session.cancel()  # stop while connecting: nothing was received yet
            try:
                return await session
            except asyncio.CancelledError:
                if self._stop.is_set():
                    return "stopped"
                raise
            except SessionEnded as exc:
                return str(exc)
        finally:
            stopper.cancel()

    async def _session(self) -> str:
        settings = self.settings
        self.status.update(state=State.CONNECTING, connected_since=None)
        headers = {"Authorization": settings.authorization} if settings.authorization else {}
        try:
            ws = await connect(
                settings.tote_url,
                subprotocols=[Subprotocol(p) for p in PROTOCOLS],
                additional_headers=headers,
                user_agent_header=settings.user_agent,
                open_timeout=settings.ack_timeout_seconds,
                close_timeout=2,
                max_size=MAX_FRAME_BYTES * 4,
                max_queue=256,
                compression=None,
            )
        except InvalidStatus as exc:
            code: int | None = exc.response.status_code
            if code in (401, 403):
                raise FatalConnectionError(f"handshake refused with HTTP {code}") from None
            raise SessionEnded(f"handshake refused with HTTP {code}") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise SessionEnded(f"connect failed: {type(exc).__name__}: {exc}") from None
        try:
            return await self._speak(ws)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            reason = describe_close(code, exc.rcvd.reason if exc.rcvd else "")
            if is_fatal_close(code):
                raise FatalConnectionError(reason) from None
            raise SessionEnded(reason) from None
        finally:
            await ws.close()

    async def _speak(self, ws: ClientConnection) -> str:
        protocol = ws.subprotocol or GRAPHQL_WS
        proto = ClientProtocol(
            protocol, self.settings.authorization, self.subscriptions, self.settings.user_agent
        )
        connection_id = new_id()
        self.status.update(protocol=protocol, connection_id=connection_id)
        await ws.send(proto.init_message())
        try:
            async with asyncio.timeout(self.settings.ack_timeout_seconds):
                while not proto.acknowledged:
                    event = proto.receive(await ws.recv(decode=False))
                    if event.kind is EventKind.CONNECTION_ERROR:
                        raise FatalConnectionError(f"connection_init refused: {event.detail}")
                    if event.reply:
                        await ws.send(event.reply)
        except TimeoutError:
            raise SessionEnded(
                f"no connection_ack within {self.settings.ack_timeout_seconds:g}s"
            ) from None
        for message, sub in zip(proto.subscribe_messages(), self.subscriptions, strict=True):
            await ws.send(message)
            self.status.subscription(sub.field, "active")
        self._receiving = True
        now = datetime.now(UTC)
        with self.status._lock:
            self.status.state = State.CONNECTED
            self.status.connected_since = now
            self.status.connections += 1
        log.info(
            "connected to Tote (%s), %d subscription(s) started",
            protocol,
            len(self.subscriptions),
            extra={"json_fields": {"connection_id": connection_id, "protocol": protocol}},
        )
        if self.on_subscribed is not None:
            self.on_subscribed()
        return await self._receive(ws, proto, connection_id)

    async def _receive(
        self, ws: ClientConnection, proto: ClientProtocol, connection_id: str
    ) -> str:
        settings = self.settings
        ping = proto.ping_message() if settings.client_ping_seconds > 0 else None
        self._liveness = Liveness(
            time.monotonic(),
            multiplier=settings.watchdog_keepalives,
            cap=settings.watchdog_seconds,
            client_ping_interval=settings.client_ping_seconds if ping else None,
        )
        silent: list[str] = []
        tasks = [
            asyncio.create_task(self._watchdog(ws, silent)),
            asyncio.create_task(self._close_on_stop(ws, proto)),
        ]
        if ping:
            tasks.append(asyncio.create_task(self._pinger(ws, ping)))
        try:
            while True:
                raw = await ws.recv(decode=False)
                await self._handle(raw, ws, proto, connection_id)
        except ConnectionClosed:
            if self._stop.is_set():
                return "stopped"
            if silent:
                raise SessionEnded(silent[0]) from None
            raise
        finally:
            for task in tasks:
                task.cancel()

    async def _handle(
        self, raw: bytes, ws: ClientConnection, proto: ClientProtocol, connection_id: str
    ) -> None:
        received = time.monotonic()
        event = proto.receive(raw)
        if event.kind in (EventKind.KEEPALIVE, EventKind.PING):
            self._liveness.server_keepalive(received)
        else:
            self._liveness.traffic(received)
        if event.forward:
            now = RECEIVE_CLOCK.now()  # strictly increasing: time order is arrival order
            attrs = ingress_attributes(
                frame_id=new_id(),
                received_at=now,
                connection_id=connection_id,
                protocol=proto.protocol,
                subscription=event.subscription,
            )
            await self._forward(Frame(raw, attrs, received))
            self.status.frame(event.subscription, now)
            if event.kind is EventKind.ERROR:
                field = event.subscription or f"id {event.id}"
                if event.subscription:
                    self.status.subscription(event.subscription, "rejected", event.detail)
                log.warning(
                    "subscription %s rejected by the server: %s",
                    field,
                    event.detail,
                    extra={"json_fields": {"subscription": field, "error": event.detail}},
                )
            elif event.kind is EventKind.MALFORMED:
                with self.status._lock:
                    self.status.malformed += 1
                log.warning("malformed frame forwarded for dead-lettering: %s", event.detail)
        elif event.reply:
            await ws.send(event.reply)
        elif event.kind is EventKind.COMPLETE and event.subscription:
            if self.status.subscriptions.get(event.subscription, {}).get("state") == "active":
                self.status.subscription(event.subscription, "completed")
            log.info("server completed subscription %s", event.subscription)
        elif event.kind is EventKind.CONNECTION_ERROR:
            raise FatalConnectionError(f"connection error from server: {event.detail}")
        elif event.kind is EventKind.UNKNOWN:
            log.warning("ignored frame: %s", event.detail)

    async def _forward(self, frame: Frame) -> None:
        """Buffer ``frame``; when full, stop reading (backpressure), then refuse and count."""
        if self.forwarder.offer(frame):
            return
        deadline = time.monotonic() + self.settings.backpressure_seconds
        while not self.forwarder.offer(frame):
            if time.monotonic() >= deadline:
                self.forwarder.refuse(frame, "ingress buffer full (Pub/Sub too slow or down)")
                return
            await asyncio.sleep(0.005)

    async def _watchdog(self, ws: ClientConnection, silent: list[str]) -> None:
        """Close the socket once it was silent past the cadence-derived deadline."""
        liveness = self._liveness
        while True:
            now = time.monotonic()
            deadline = liveness.deadline()
            self.status.liveness(deadline, liveness.server_interval)
            idle = liveness.silent_for(now)
            if idle is not None:
                interval = liveness.server_interval
                cadence = f", keep-alive every {interval:.1f}s" if interval else ""
                silent.append(
                    f"watchdog: no GraphQL traffic for {idle:.1f}s "
                    f"(deadline {deadline:.1f}s{cadence})"
                )
                log.warning(
                    "%s; closing the socket",
                    silent[0],
                    extra={"json_fields": {"silent_s": round(idle, 3), "deadline_s": deadline}},
                )
                await ws.close(code=4000, reason="watchdog")
                return
            remaining = deadline - (now - liveness.last_traffic)
            await asyncio.sleep(max(0.05, min(0.5, remaining)))

    async def _pinger(self, ws: ClientConnection, ping: str) -> None:
        """Send our own GraphQL ``ping`` so a quiet but healthy server still produces traffic."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.settings.client_ping_seconds)
                await ws.send(ping)

    async def _close_on_stop(self, ws: ClientConnection, proto: ClientProtocol) -> None:
        await self._stop.wait()
        self.status.update(state=State.STOPPING)
        with contextlib.suppress(ConnectionClosed):
            for message in proto.stop_messages():
                await ws.send(message)
        await ws.close()
