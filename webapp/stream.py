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
from collections.abc import Callable, Iterator

from webapp import sse
from webapp.bus import ClientStream, EventBus
from webapp.replay import GAP_EVENT, Gap

__all__ = ["event_stream"]

_REPLAY_CHUNK = 500


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
) -> Iterator[bytes]:
    try:
        opening = sse.retry_frame(retry_ms) + sse.comment(f"stream {bus.epoch}")
        if gap is not None:
            # No id: the notice must not move the browser's Last-Event-ID.
            opening += (
                f"event: {GAP_EVENT}\ndata: {json.dumps(gap.as_dict(), separators=(',', ':'))}\n\n"
            ).encode()
        yield opening
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
