"""The server client shown in docs/webapp.md really resumes after a cut: exactly once, in order."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from devstack.processes import free_port
from tests.webapp.conftest import inject
from tests.webapp.messages import pool_total
from tests.webapp.servers import poll

DOC = Path(__file__).resolve().parents[2] / "docs" / "webapp.md"


def _server_client() -> Callable[..., None]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("A server (Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "docs/webapp.md lost its server client"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)
    return namespace["follow"]


def test_the_documented_server_client_resumes_after_a_cut(make_app: Callable[..., Flask]) -> None:
    follow = _server_client()
    app = make_app()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def publish(i: int) -> None:
        product = f"0000000{i}-0000-4000-8000-000000000000"  # one pool each
        inject(app, pool_total(str(i), product, received_at=f"2026-11-26T14:03:0{i}.000Z"))

    for i in range(2):  # in /state
        publish(i)

    def produce() -> None:  # on the stream, once the client follows it
        assert poll(lambda: app.extensions["tote"].bus.stats().clients == 1)
        for i in range(2, 6):
            publish(i)
            time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    seen: list[str] = []
    cuts: list[int] = []

    def handle(stream: str, data: dict[str, Any]) -> bool:
        seen.append(data["data"]["gross_amounts"][0]["amount"])
        if len(seen) == 3 and not cuts:  # the first event of the stream
            cuts.append(1)
            raise OSError("connection reset (the cut)")
        return len(seen) < 6

    try:
        follow(f"http://127.0.0.1:{port}", handle)
    finally:
        producer.join()
        server.shutdown()
    assert cuts and seen == [str(i) for i in range(6)]
