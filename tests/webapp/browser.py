"""Headless Chromium driven over the Chrome DevTools Protocol (``websockets``, no Selenium).

``chromium()`` skips the calling test with a reason when Debian's ``chromium`` is missing,
except under CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from devstack.processes import ManagedProcess, free_port, wait_for_http
from tests.tools import require_tool

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,1000",
]


def chromium_binary() -> str:
    return require_tool(
        "chromium", "chromium-browser", install="apt-get install chromium, or make system-deps"
    )


class Page:
    """One page target: ``evaluate`` JavaScript, ``navigate``, ``screenshot``."""

    def __init__(self, ws_url: str) -> None:
        self.ws = connect(ws_url, max_size=None, open_timeout=30)
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll ``expression`` until it is truthy; returns its value.

        An exception counts as "not yet" (the page may still be loading), and is reported if
        the time runs out.
        """
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as exc:
                value = exc
            else:
                if value:
                    return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression!r} (last value {value!r})")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)[
            "data"
        ]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self.ws.close()


@contextmanager
def chromium(logs: Path) -> Iterator[Page]:
    """A fresh headless Chromium (own profile, own process group) and its first page."""
    binary = chromium_binary()
    port = free_port()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    process = ManagedProcess(
        "chromium",
        [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        log_path=logs / f"chromium-{port}.log",
    ).start()
    page: Page | None = None
    try:
        wait_for_http(f"http://127.0.0.1:{port}/json/version", timeout=60, alive=process.alive)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        target = next(t for t in targets if t.get("type") == "page")
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        yield page
    finally:
        if page is not None:
            page.close()
        process.stop()
        shutil.rmtree(profile, ignore_errors=True)
