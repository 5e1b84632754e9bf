"""The real server (gunicorn + ``gunicorn_conf.py``): tokens never reach any log.

Requests carry the token in ``?access_token=`` (valid and invalid), in headers, and inside
malformed request lines that gunicorn rejects before the app sees them (its error log prints
the request line); afterwards every line the process wrote is searched for the token.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.webapp.servers import poll, webapp_server
from webapp.access import Keyring
from webapp.tokens import mint

pytestmark = [pytest.mark.slow]

SECRET = "gunicorn-test-secret-long-enough-0123456789"
KEYS = json.dumps({"k1": SECRET})


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_no_token_in_any_log_line(logs_dir: Path) -> None:
    token = mint(Keyring.from_json(KEYS), sub="alice", streams=["market", "bet-lifecycle"], ttl=600)
    market = mint(Keyring.from_json(KEYS), sub="bob", streams=["market"], ttl=600)
    env = {
        "WEBAPP_PUBSUB": "false",
        "WEBAPP_TOKEN_KEYS": KEYS,
        "GOOGLE_CLOUD_PROJECT": "log-test",
        "WEBAPP_LOG_LEVEL": "debug",  # the most talkative setting
        "WEBAPP_TOKEN_LEEWAY_SECONDS": "0",
    }
    with webapp_server(logs_dir, "webapp-tokens", **env) as app:
        assert _status(app.url(f"/status?access_token={token}")) == 200
        assert _status(app.url(f"/status?access_token={token}x")) == 401  # bad signature
        assert _status(app.url(f"/events?types=bet-lifecycle&access_token={market}")) == 403
        assert _status(app.url(f"/nope?access_token={token}")) == 404
        assert _status(app.url("/status"), {"Authorization": f"Bearer {token}"}) == 200
        stream = app.stream(
            f"/events?types=pool-total&access_token={token}",
            headers={"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"},
        )
        assert stream.status == 200
        assert poll(lambda: app.status_with(token)["clients"]["connected"] == 1)
        stream.close()
        assert poll(lambda: app.status_with(token)["clients"]["connected"] == 0)
        # A stream ends when its token expires (the dispatcher owns the socket here).
        brief = mint(Keyring.from_json(KEYS), sub="brief", streams=["market"], ttl=2)
        ending = app.stream("/events", headers={"Authorization": f"Bearer {brief}"})
        assert ending.status == 200
        ending.read_until(10**6, timeout=30)  # returns when the server closes the stream
        assert ending.response.read1(1) == b""
        ending.close()
        assert poll(lambda: app.status_with(token)["clients"]["connected"] == 0)
        malformed = [
            f"GET /events?access_token={token} HTTP/1.1 extra\r\n\r\n",
            f"GET /events?access_token={token} HTTP/9.9\r\n\r\n",
            f"G@T /events?access_token={token} HTTP/1.1\r\n\r\n",
            f"GET /events?access_token={token}\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
            f"GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nBad Header\r\n\r\n",
        ]
        for request in malformed:
            answer = _raw(app.port, request.encode("latin-1"))
            assert answer.startswith(b"HTTP/1.1 400") or answer == b"", answer[:80]
        # The process still serves, and wrote its error lines for those requests.
        assert _status(app.url("/health")) == 200
        assert poll(lambda: "Invalid request" in app.process.log_path.read_text(errors="replace"))
    text = app.process.log_path.read_text(errors="replace")
    assert token not in text and market not in text
    assert token.split(".")[2] not in text  # not even the signature alone
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines, "no structured lines"
    assert all({"severity", "message"} <= set(line) for line in lines)
    requests = [line for line in lines if "httpRequest" in line]
    assert {line["httpRequest"]["requestUrl"] for line in requests} >= {"/status", "/events"}
    assert any(
        line.get("logging.googleapis.com/trace")
        == "projects/log-test/traces/105445aa7843bc8bf206b12000100000"
        for line in requests
    )
    assert any("[redacted]" in line["message"] for line in lines if "Invalid" in line["message"])
    non_json = [line for line in text.splitlines() if line.strip() and not line.startswith("{")]
    assert not non_json, non_json[:5]
