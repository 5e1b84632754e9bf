"""The racing window (when the connector should be connected), as plain functions.

Cloud Scheduler opens the socket at 06:00 and closes it at 23:00, Europe/London.  An instance
that Cloud Run starts (or restarts) inside that window should connect by itself instead of
waiting up to ten minutes for Scheduler's next idempotent ``/start``, and one still connected
when the window closes (a missed ``/stop``) should disconnect.  The window is read from
``AUTOSTART_WINDOW`` (``"06:00-23:00"``) and ``AUTOSTART_TIME_ZONE``, which Terraform fills from
the same variables as the Scheduler jobs.  Local wall-clock time is what counts, so the window
follows the clocks through BST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ALWAYS", "RacingWindow", "WindowAction", "in_window", "parse_window", "window_action"]

_SPEC = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class RacingWindow:
    """``[start, end)`` in local time of ``zone``; ``end`` ``None`` means midnight (24:00).

    ``start == end`` (``"00:00-24:00"`` is written as start 00:00, end ``None``) is "always";
    ``start > end`` wraps past midnight.
    """

    start: time
    end: time | None
    zone: ZoneInfo


ALWAYS = RacingWindow(time(0, 0), None, ZoneInfo("UTC"))


def parse_window(spec: str, zone: str = "Europe/London") -> RacingWindow:
    """``"HH:MM-HH:MM"`` (end may be ``24:00``) in IANA ``zone``; ``ValueError`` says why."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise ValueError(f"window must look like 06:00-23:00, got {spec!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"window has an impossible time: {spec!r}")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    return RacingWindow(time(h1, m1), None if h2 == 24 else time(h2, m2), tz)


def in_window(now: datetime, window: RacingWindow) -> bool:
    """Whether the aware instant ``now`` falls inside ``window`` (local time of its zone)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(window.zone).time().replace(tzinfo=None)
    if window.end is None:
        return local >= window.start
    if window.start <= window.end:
        return window.start <= local < window.end
    return local >= window.start or local < window.end  # wraps past midnight


class WindowAction(StrEnum):
    START = "start"
    STOP = "stop"
    NONE = "none"


def window_action(was_inside: bool | None, inside: bool) -> WindowAction:
    """What to do when a check finds ``inside`` (``was_inside`` ``None``: the first check).

    Only edges act: booting inside the window starts, the window opening starts, the window
    closing stops.  An operator's ``/stop`` inside the window (or ``/start`` outside it) is
    left alone until the next edge.
    """
    if inside and not was_inside:
        return WindowAction.START
    if was_inside and not inside:
        return WindowAction.STOP
    return WindowAction.NONE
