"""``python -m webapp.tokens``: mint access tokens and signing keys for operators.

    python -m webapp.tokens new-key --kid 2026-12            # {"2026-12": "<random secret>"}
    python -m webapp.tokens mint --sub alice --streams market,bet-lifecycle --ttl 3600

``mint`` signs with the first key of ``WEBAPP_TOKEN_KEYS`` (or ``--keys-file``), an HS256
secret, and prints the token on stdout and nothing else, so it pipes into a header
(``curl -H "Authorization: Bearer $(python -m webapp.tokens mint ...)"``).  Stream names are
checked here (a typo would otherwise mint a token that grants nothing).  Keys and tokens are
never written anywhere but stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jwt

from webapp.access import ALL_STREAMS, MARKET, MAX_TOKEN_TTL_SECONDS, Keyring, KeyringError

__all__ = ["main", "mint", "new_key"]

MAX_TTL = MAX_TOKEN_TTL_SECONDS  # the web app refuses a token whose exp is further ahead


def mint(
    keyring: Keyring,
    *,
    sub: str,
    streams: Sequence[str],
    ttl: int,
    audience: str = "tote-webapp",
    issuer: str = "tote-realtime",
    now: float | None = None,
    kid: str | None = None,
) -> str:
    """A signed token for ``sub`` granting ``streams`` for ``ttl`` seconds."""
    unknown = sorted(set(streams) - ALL_STREAMS - {MARKET})
    if unknown:
        known = ", ".join([MARKET, *sorted(ALL_STREAMS)])
        raise ValueError(f"unknown stream(s) {', '.join(unknown)}; known: {known}")
    if not streams:
        raise ValueError("a token must grant at least one stream")
    if not sub.strip():
        raise ValueError("sub must not be empty")
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL} seconds")
    key = keyring.signing if kid is None else keyring.find(kid)
    if key is None:
        raise ValueError(f"no key {kid!r} in the keyring")
    if key.sign_key is None:
        raise ValueError(f"key {key.kid!r} is a public key: mint {key.algorithm} tokens elsewhere")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": sub.strip(),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "streams": list(dict.fromkeys(streams)),
    }
    return jwt.encode(claims, key.sign_key, algorithm=key.algorithm, headers={"kid": key.kid})  # type: ignore[arg-type]  # HS256 secret


def new_key(kid: str) -> str:
    """A keyring entry with a fresh 256-bit HS256 secret, as JSON."""
    return json.dumps({kid: secrets.token_urlsafe(32)})


def _keyring(path: str | None) -> Keyring:
    text = Path(path).read_text(encoding="utf-8") if path else os.environ.get("WEBAPP_TOKEN_KEYS")
    if not text or not text.strip():
        raise ValueError("no keys: set WEBAPP_TOKEN_KEYS or pass --keys-file")
    try:
        return Keyring.from_json(text)
    except KeyringError as exc:
        raise ValueError(f"WEBAPP_TOKEN_KEYS: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m webapp.tokens", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    minting = commands.add_parser("mint", help="print a signed access token")
    minting.add_argument("--sub", required=True, help="who the token is for (stream limits key)")
    minting.add_argument(
        "--streams", required=True, help="comma list: market, bet-lifecycle, or stream names"
    )
    minting.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (3600)")
    minting.add_argument("--kid", help="sign with this key (default: the keyring's first)")
    minting.add_argument("--keys-file", help="keyring JSON file (default: $WEBAPP_TOKEN_KEYS)")
    minting.add_argument(
        "--audience", default=os.environ.get("WEBAPP_TOKEN_AUDIENCE") or "tote-webapp"
    )
    minting.add_argument(
        "--issuer", default=os.environ.get("WEBAPP_TOKEN_ISSUER") or "tote-realtime"
    )
    keying = commands.add_parser("new-key", help="print a keyring entry with a fresh secret")
    keying.add_argument("--kid", required=True, help="key id, e.g. the month it was made")
    args = parser.parse_args(argv)
    try:
        if args.command == "new-key":
            print(new_key(args.kid))
            return 0
        streams = [s.strip() for s in args.streams.split(",") if s.strip()]
        print(
            mint(
                _keyring(args.keys_file),
                sub=args.sub,
                streams=streams,
                ttl=args.ttl,
                audience=args.audience,
                issuer=args.issuer,
                kid=args.kid,
            )
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
