"""The body of one SSE response: a generator of byte chunks, with no sockets in sight.

Order on the wire: ``retry:``, an opening comment, the replay-gap notice (if any), the replayed
events, then live events as they arrive, with a heartbeat comment whenever nothing was written
for ``heartbeat`` seconds.  After each write the stream pauses ``flush_interval`` seconds so
that events arriving meanwhile go out in one write: with a thousand clients this turns
"one write per event per client" into at most ``1/flush_interval`` writes per client per
second, at the price of that much added latency (see ``docs/webapp.md``).

The generator's ``finally`` disconnects the client from the bus, so closing the response (the
WSGI server does it when the client goes away) always releases it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

from webapp import sse
from webapp.bus import ClientStream, EventBus
from webapp.replay import GAP_EVENT, Gap

if TYPE_CHECKING:
    import socket

    from webapp.runtime import Runtime

__all__ = ["event_stream", "handed_over_stream", "opening"]

_REPLAY_CHUNK = 500


def opening(epoch: str, retry_ms: int, gap: Gap | None) -> bytes:
    """``retry:``, a comment naming the stream's epoch, and the gap notice if there is one."""
    out = sse.retry_frame(retry_ms) + sse.comment(f"stream {epoch}")
    if gap is not None:
        # No id: the notice must not move the browser's Last-Event-ID.
        data = json.dumps(gap.as_dict(), separators=(",", ":"))
        out += f"event: {GAP_EVENT}\ndata: {data}\n\n".encode()
    return out


def handed_over_stream(
    runtime: Runtime,
    client: ClientStream,
    sock: socket.socket,
    *,
    chunked: bool,
    gap: Gap | None = None,
    on_finish: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """Write the opening through the server, then let the dispatcher own the socket.

    The server has written (and flushed) the opening chunk by the time the generator resumes,
    so the dispatcher's bytes follow it on the wire; this thread then parks until the
    dispatcher ends the stream (client gone, dropped, or shutdown).
    """
    try:
        yield opening(runtime.bus.epoch, runtime.config.retry_ms, gap)
        done = runtime.dispatcher.adopt(client, sock, chunked)
        done.wait()
    finally:
        runtime.bus.disconnect(client)
        if on_finish is not None:
            on_finish()


def event_stream(
    bus: EventBus,
    client: ClientStream,
    *,
    gap: Gap | None = None,
    heartbeat: float = 15.0,
    retry_ms: int = 3000,
    flush_interval: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_finish: Callable[[], None] | None = None,
) -> Generator[bytes, None, None]:  # close() (the WSGI server's) runs the cleanup
    try:
        yield opening(bus.epoch, retry_ms, gap)
        last_write = clock()
        while True:
            if client.closed:
                return
            events = client.take(_REPLAY_CHUNK)
            if events:
                yield b"".join(e.frame for e in events)
                client.written(len(events))
                last_write = clock()
                if flush_interval > 0 and client.lag() == 0:
                    sleep(flush_interval)
                continue
            if client.lag() > 0:
                continue  # filtered everything out, more is waiting
            remaining = heartbeat - (clock() - last_write)
            if remaining <= 0:
                yield sse.comment("heartbeat")
                last_write = clock()
                continue
            client.wait(remaining)
    finally:
        bus.disconnect(client)
        if on_finish is not None:
            on_finish()
