from __future__ import annotations

import logging
from typing import Any

import pytest
from google.auth.exceptions import GoogleAuthError, TransportError
from google.oauth2 import id_token

from connector.auth import Authorizer, google_verifier, redact_token
from tests.responses import json_body

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


def test_invalid_token_is_401_logged_at_info_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWJ5dGVz"
    auth = authorizer(ValueError(f"Could not verify token signature: b'{jwt}'"))
    with caplog.at_level(logging.INFO, logger="connector.auth"):
        d = auth.decide(f"Bearer {jwt}", [AUD])
    assert d.status == 401
    assert auth.counters() == {"tokens_rejected": 1, "verifier_failures": 0}
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "identity token rejected" in record.getMessage()
    assert "<token>" in record.getMessage()
    for segment in jwt.split("."):
        assert segment not in caplog.text


def test_verifier_failure_is_503_logged_as_error_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = authorizer(TransportError("Could not fetch certificates at https://x/certs"))
    with caplog.at_level(logging.INFO, logger="connector.auth"):
        d = auth.decide(f"Bearer {JWT}", [AUD])
        again = auth.decide(f"Bearer {JWT}", [AUD])
    assert d.status == again.status == 503
    assert "retry later" in d.reason
    assert auth.counters() == {"tokens_rejected": 0, "verifier_failures": 2}
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert "TransportError" in caplog.records[0].getMessage()


def test_google_verifier_cannot_reach_the_certificates_is_a_verifier_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real google-auth path, pointed at a closed loopback port instead of Google.
    monkeypatch.setattr(id_token, "_GOOGLE_OAUTH2_CERTS_URL", "http://127.0.0.1:9/certs")
    with pytest.raises(TransportError):
        google_verifier(JWT)
    auth = Authorizer("ctl", [SA], google_verifier)
    assert auth.decide(f"Bearer {JWT}", [AUD]).status == 503
    assert auth.counters()["verifier_failures"] == 1


def test_google_verifier_wrong_issuer_is_an_invalid_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wrong_issuer(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise GoogleAuthError("Wrong issuer. 'iss' should be one of the following: ...")

    monkeypatch.setattr(id_token, "verify_oauth2_token", wrong_issuer)
    with pytest.raises(ValueError, match="Wrong issuer"):
        google_verifier(JWT)
    assert Authorizer("ctl", [SA], google_verifier).decide(f"Bearer {JWT}", [AUD]).status == 401


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bad token aaaaaaaa.bbbbbbbb.cccccccc here", "bad token <token> here"),
        ("segment b'bbbbbbbb' unparsable", "segment b'<token>' unparsable"),
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_redact_token(text: str, expected: str) -> None:
    assert redact_token(text, "aaaaaaaa.bbbbbbbb.cccccccc") == expected


class NullPublisher:
    def publish_batch(self, messages: Any) -> list[str]:
        return [str(i) for i, _ in enumerate(messages)]


def test_a_verifier_failure_is_a_503_json_error_and_counted_in_status() -> None:
    from connector import api
    from connector.settings import Settings

    def unreachable(token: str) -> dict[str, Any]:
        raise TransportError("certificates unreachable")

    settings = Settings(control_token="ctl", allowed_invokers=(SA,), oidc_audience=AUD)
    try:
        app = api.create_app(settings, publisher=NullPublisher(), verifier=unreachable)
        client = app.test_client()
        refused = client.post("/start", headers={"Authorization": f"Bearer {JWT}"})
        assert refused.status_code == 503
        assert refused.json is not None and json_body(refused)["status"] == 503
        assert "retry later" in json_body(refused)["error"]
        status = json_body(client.get("/status"))
        assert status is not None
        assert status["auth"] == {"tokens_rejected": 0, "verifier_failures": 1}
        assert status["state"] == "idle"  # the refused /start started nothing
    finally:
        api.shutdown_services()
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_tote_connector", False):
                logging.getLogger().removeHandler(handler)
