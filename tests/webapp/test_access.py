from __future__ import annotations

from webapp.access import bearer_token, cors_headers, is_authorized, origin_allowed


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_authorization() -> None:
    assert is_authorized(None, None, None)
    assert is_authorized("s3cret", "Bearer s3cret", None)
    assert is_authorized("s3cret", None, "s3cret")
    assert not is_authorized("s3cret", "Bearer wrong", None)
    assert not is_authorized("s3cret", None, None)


def test_cors() -> None:
    allowed = ("https://a.example",)
    assert origin_allowed("https://a.example", allowed)
    assert not origin_allowed("https://b.example", allowed)
    assert cors_headers("https://b.example", allowed) == {}
    headers = cors_headers("https://a.example", allowed)
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert headers["Vary"] == "Origin"
    assert cors_headers("https://any.example", ("*",))["Access-Control-Allow-Origin"] == "*"
    assert cors_headers(None, ("*",)) == {}
