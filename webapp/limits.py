"""Who may open a stream: per-client caps (token ``sub`` or address), the instance-wide cap, and client addresses.

Plain bookkeeping (a counter per address behind a lock), so the 429/503 decisions are unit-tested
without a server.  Behind a load balancer the peer address is the proxy's; set
``WEBAPP_TRUSTED_PROXY_HOPS`` to the number of proxies that append to ``X-Forwarded-For`` (Cloud
Run: 1) and the client address is read from that header instead.  Never trust more hops than
you have: the left part of the header is whatever the client sent.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from enum import Enum

__all__ = ["IPV6_PREFIX", "Admission", "StreamLimiter", "bucket", "client_address"]


IPV6_PREFIX = 64
"""IPv6 clients are counted per /64: one subscriber line or host usually gets a whole /64
(often more), so counting single addresses would let it open streams from 2**64 of them."""


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The address a stream is counted against (used without a token ``sub``).

    The entry ``trusted_hops`` from the right of ``X-Forwarded-For`` is the one our nearest
    trusted proxy saw.  It must parse as an IP address: anything else (a client writing junk,
    a misconfigured hop count) falls back to the peer address, so a client cannot mint itself
    fresh limit keys with made-up strings.  The address is then bucketed (:func:`bucket`).
    """
    if trusted_hops > 0 and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if hops:
            candidate = bucket(hops[max(len(hops) - trusted_hops, 0)])
            if candidate is not None:
                return candidate
    if not remote_addr:
        return "unknown"
    return bucket(remote_addr) or remote_addr  # e.g. a unix socket's name: counted as itself


def bucket(text: str) -> str | None:
    """The limit key of an address: an IPv4 address itself (also when written IPv4-mapped,
    ``::ffff:1.2.3.4``), an IPv6 address's /64 (``2001:db8:1:2::/64``); ``None`` if ``text``
    is not an IP address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class Admission(Enum):
    OK = "ok"
    CLIENT_LIMIT = "client-limit"  # -> 429
    SERVER_FULL = "server-full"  # -> 503


class StreamLimiter:
    """Counts open streams per address and in total; ``admit`` then ``release`` exactly once."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._open: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def admit(self, address: str) -> Admission:
        with self._lock:
            if self._total >= self.total:
                return Admission.SERVER_FULL
            if self._open[address] >= self.per_client:
                return Admission.CLIENT_LIMIT
            self._open[address] += 1
            self._total += 1
            return Admission.OK

    def release(self, address: str) -> None:
        with self._lock:
            if self._open.get(address, 0) <= 0:
                return  # never admitted (or already released): nothing to give back
            self._total -= 1
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open_streams(self, address: str | None = None) -> int:
        with self._lock:
            return self._open.get(address, 0) if address is not None else self._total
