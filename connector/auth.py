"""Who may call the control API's POST endpoints.

Cloud Scheduler calls ``/start`` and ``/stop`` with a Google-signed OIDC identity token for a
service account; local tools use a shared bearer token (``CONTROL_TOKEN``).  The decision is a
plain function over the presented token and the verified claims, so it is unit-tested without
Google; the verifier (signature, expiry, audience-agnostic) is injected and defaults to
``google.oauth2.id_token.verify_oauth2_token``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["AuthDecision", "Authorizer", "google_verifier"]

Verifier = Callable[[str], dict[str, Any]]
"""Verifies a token's signature and expiry and returns its claims; raises ``ValueError``."""

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """``status`` is 200 (allowed), 401 (no or invalid credentials) or 403 (not allowed)."""

    status: int
    reason: str
    principal: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


def google_verifier(token: str) -> dict[str, Any]:
    """Verify a Google-signed ID token (fetches Google's public certificates, cached)."""
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    return id_token.verify_oauth2_token(token, google_requests.Request(), audience=None)


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
        except Exception:  # any verification failure is the caller's problem, not ours
            return AuthDecision(401, "identity token could not be verified")
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
