"""``python -m webapp.tokens``: mint prints only the token; bad input exits 2 with a message."""

from __future__ import annotations

import json
import time

import pytest

from webapp.access import ALL_STREAMS, AccessPolicy, Keyring, authenticate
from webapp.tokens import main

SECRET = "a-cli-test-secret-long-enough-0123456789"


def test_new_key_then_mint_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["new-key", "--kid", "2026-12"]) == 0
    entry = capsys.readouterr().out.strip()
    keyring = Keyring.from_json(entry)
    assert keyring.signing.kid == "2026-12" and keyring.signing.algorithm == "HS256"
    monkeypatch.setenv("WEBAPP_TOKEN_KEYS", entry)
    argv = ["mint", "--sub", "alice", "--streams", "market,bet-lifecycle", "--ttl", "3600"]
    assert main(argv) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert out.err == "" and "\n" not in token  # stdout is the token and nothing else
    principal = authenticate(token, AccessPolicy(keyring=keyring), now=time.time())
    assert principal.sub == "alice" and principal.streams == ALL_STREAMS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--streams", "markets"], "unknown stream(s) markets"),
        (["--ttl", "0"], "ttl must be between"),
        (["--kid", "nope"], "no key 'nope'"),
    ],
)
def test_bad_mint_arguments_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBAPP_TOKEN_KEYS", json.dumps({"k1": SECRET}))
    base = {"--sub": "alice", "--streams": "market", "--ttl": "60"}
    base.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    assert main(["mint", *[x for kv in base.items() for x in kv]]) == 2
    out = capsys.readouterr()
    assert message in out.err and out.out == "" and SECRET not in out.err


def test_mint_without_keys_says_where_they_come_from(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBAPP_TOKEN_KEYS", raising=False)
    assert main(["mint", "--sub", "a", "--streams", "market"]) == 2
    assert "WEBAPP_TOKEN_KEYS" in capsys.readouterr().err
