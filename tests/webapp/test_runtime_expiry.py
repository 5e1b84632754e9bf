"""``Runtime.end_at`` / ``due_for_expiry``: which open streams have outlived their token."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from webapp.filters import EventFilter
from webapp.runtime import Runtime


def test_due_for_expiry_returns_each_open_stream_once(make_app: Callable[..., Flask]) -> None:
    runtime: Runtime = make_app().extensions["tote"]
    base = time.time() + 10_000  # far ahead: the app's own reaper never sees them due
    early, late, gone, forever = (runtime.bus.connect(EventFilter(), None, name) for name in "abcd")
    runtime.end_at(early, base + 100)
    runtime.end_at(late, base + 200)
    runtime.end_at(gone, base + 50)
    runtime.end_at(forever, None)  # no expiry (access control off)
    runtime.bus.disconnect(gone)
    assert runtime.due_for_expiry(base + 99) == []  # "gone" is forgotten, not returned
    assert runtime.due_for_expiry(base + 150) == [early]
    assert runtime.due_for_expiry(base + 150) == []
    assert runtime.due_for_expiry(base + 10**9) == [late]
    assert not forever.closed
