"""Who may call the control API's POST endpoints.

Cloud Scheduler calls ``/start`` and ``/stop`` with a Google-signed OIDC identity token for a
service account; local tools use a shared bearer token (``CONTROL_TOKEN``).  The decision is a
plain function over the presented token and the verified claims, so it is unit-tested without
Google; the verifier (signature, expiry, audience-agnostic) is injected and defaults to
``google.oauth2.id_token.verify_oauth2_token``.

A token that fails verification (``ValueError``: bad signature, expired, malformed, wrong
issuer) is the caller's problem: 401, logged at info without the token.  The verifier itself
failing (Google's certificates unreachable, anything else) is ours: 503 so Cloud Scheduler
retries, logged as an error and counted (``verifier_failures``), never reported as a bad token.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["AuthDecision", "Authorizer", "google_verifier", "redact_token"]

log = logging.getLogger(__name__)

Verifier = Callable[[str], dict[str, Any]]
"""Verifies a token's signature and expiry and returns its claims.

Raises ``ValueError`` when the token is not valid; any other exception means the verifier
could not decide (e.g. Google's certificates could not be fetched).
"""

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """``status`` is 200 (allowed), 401 (no or invalid credentials), 403 (not allowed) or 503
    (the token could not be checked now: the verifier failed)."""

    status: int
    reason: str
    principal: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


def google_verifier(token: str) -> dict[str, Any]:
    """Verify a Google-signed ID token (fetches Google's public certificates, cached).

    google-auth raises ``ValueError`` subclasses for invalid tokens but a bare
    ``GoogleAuthError`` for a wrong issuer: that one is an invalid token too.  Failing to fetch
    the certificates (``TransportError``) propagates as a verifier failure.
    """
    from google.auth import exceptions
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    try:
        claims: dict[str, Any] = id_token.verify_oauth2_token(
            token, google_requests.Request(), audience=None
        )
    except exceptions.GoogleAuthError as exc:
        if type(exc) is exceptions.GoogleAuthError:
            raise ValueError(str(exc)) from exc
        raise
    return claims


def redact_token(text: str, token: str) -> str:
    """``text`` with ``token`` and each of its segments replaced (google-auth messages can quote
    the token or a segment of it)."""
    for part in sorted({token, *token.split(".")}, key=len, reverse=True):
        if len(part) >= 8:
            text = text.replace(part, "<token>")
    return text


class Authorizer:
    """Accepts the shared control token or an OIDC token of an allowed service account."""

    def __init__(
        self,
        control_token: str = "",
        allowed_invokers: Iterable[str] = (),
        verifier: Verifier | None = None,
    ) -> None:
        self._control_token = control_token
        self.allowed_invokers = frozenset(e.strip().lower() for e in allowed_invokers if e)
        self._verifier = verifier or google_verifier
        self._lock = threading.Lock()
        self._counts = {"tokens_rejected": 0, "verifier_failures": 0}

    def counters(self) -> dict[str, int]:
        """Identity tokens rejected as invalid (401) and verifier failures (503) so far."""
        with self._lock:
            return dict(self._counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def decide(self, authorization: str | None, audiences: Iterable[str]) -> AuthDecision:
        """Decide on an ``Authorization`` header; ``audiences`` are the acceptable ``aud``s."""
        if not self._control_token and not self.allowed_invokers:
            return AuthDecision(403, "control API is locked: set CONTROL_TOKEN or ALLOWED_INVOKERS")
        if not authorization:
            return AuthDecision(401, "missing Authorization header (Bearer token expected)")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return AuthDecision(401, "Authorization must be 'Bearer <token>'")
        if self._control_token and hmac.compare_digest(
            token.encode(), self._control_token.encode()
        ):
            return AuthDecision(200, "control token", "control-token")
        if not self.allowed_invokers or token.count(".") != 2:
            return AuthDecision(401, "invalid bearer token")
        try:
            claims = self._verifier(token)
        except ValueError as exc:
            self._count("tokens_rejected")
            log.info("identity token rejected: %s", redact_token(str(exc), token))
            return AuthDecision(401, "identity token could not be verified")
        except Exception as exc:  # noqa: BLE001 - the verifier failing is ours: 503, logged, counted
            self._count("verifier_failures")
            log.error(
                "identity token verifier failed (%s): %s",
                type(exc).__name__,
                redact_token(str(exc), token),
            )
            return AuthDecision(503, "identity token could not be checked now; retry later")
        return self.decide_claims(claims, audiences)

    def decide_claims(self, claims: dict[str, Any], audiences: Iterable[str]) -> AuthDecision:
        """Which verified claims are accepted: Google issuer, our audience, allowed account."""
        if claims.get("iss") not in GOOGLE_ISSUERS:
            return AuthDecision(401, "identity token not issued by Google")
        wanted = {a.rstrip("/") for a in audiences if a}
        if str(claims.get("aud", "")).rstrip("/") not in wanted:
            return AuthDecision(401, "identity token audience does not match this service")
        email = str(claims.get("email", "")).lower()
        if not email or claims.get("email_verified") not in (True, "true"):
            return AuthDecision(403, "identity token has no verified email")
        if email not in self.allowed_invokers:
            return AuthDecision(403, f"{email} is not allowed to control the connector", email)
        return AuthDecision(200, "identity token", email)
