"""Reading a Flask test response's JSON body in a test.

``TestResponse.json`` is ``Any | None`` (``None`` when the body is not JSON), so indexing it
straight away is a type error, and at run time a ``TypeError`` that hides what came back.
"""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse


def json_body(response: TestResponse) -> Any:
    """The JSON body of ``response``; fails the test, showing the body, when it is not JSON."""
    body = response.get_json(silent=True)
    assert body is not None, f"{response.status}: not a JSON body: {response.data[:200]!r}"
    return body
