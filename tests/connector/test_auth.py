from __future__ import annotations

from typing import Any

import pytest

from connector.auth import Authorizer

AUD = "https://connector-abc.a.run.app"
SA = "scheduler@proj.iam.gserviceaccount.com"


def claims(**over: Any) -> dict[str, Any]:
    base = {"iss": "https://accounts.google.com", "aud": AUD, "email": SA, "email_verified": True}
    base.update(over)
    return base


def authorizer(verified: dict[str, Any] | Exception, token: str = "ctl") -> Authorizer:
    def verifier(jwt: str) -> dict[str, Any]:
        assert jwt.count(".") == 2
        if isinstance(verified, Exception):
            raise verified
        return verified

    return Authorizer(token, [SA], verifier)


JWT = "aaa.bbb.ccc"


def test_control_token_is_accepted() -> None:
    d = authorizer(claims()).decide("Bearer ctl", [AUD])
    assert d.allowed and d.principal == "control-token"


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("", 401), ("Basic xyz", 401), ("Bearer", 401), ("Bearer wrong", 401)],
)
def test_missing_or_wrong_credentials_are_401(header: str | None, status: int) -> None:
    assert authorizer(claims()).decide(header, [AUD]).status == status


def test_allowed_service_account_token() -> None:
    d = authorizer(claims()).decide(f"Bearer {JWT}", [AUD])
    assert d.allowed and d.principal == SA


def test_case_and_trailing_slash_tolerated() -> None:
    d = authorizer(claims(email=SA.upper(), aud=AUD + "/")).decide(f"Bearer {JWT}", [AUD])
    assert d.allowed


@pytest.mark.parametrize(
    ("override", "status"),
    [
        ({"email": "intruder@evil.iam.gserviceaccount.com"}, 403),
        ({"email_verified": False}, 403),
        ({"email": ""}, 403),
        ({"aud": "https://other.example"}, 401),
        ({"iss": "https://evil.example"}, 401),
    ],
)
def test_claims_decide(override: dict[str, Any], status: int) -> None:
    assert authorizer(claims(**override)).decide(f"Bearer {JWT}", [AUD]).status == status


def test_verification_failure_is_401() -> None:
    d = authorizer(ValueError("Token expired")).decide(f"Bearer {JWT}", [AUD])
    assert d.status == 401 and "could not be verified" in d.reason


def test_locked_when_nothing_configured() -> None:
    d = Authorizer("", [], None).decide("Bearer anything", [AUD])
    assert d.status == 403 and "CONTROL_TOKEN" in d.reason


def test_no_invokers_means_jwts_are_not_even_verified() -> None:
    def verifier(jwt: str) -> dict[str, Any]:
        raise AssertionError("must not be called")

    assert Authorizer("ctl", [], verifier).decide(f"Bearer {JWT}", [AUD]).status == 401
