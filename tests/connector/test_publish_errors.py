"""Publish error classification and retry delays: pure functions."""

from __future__ import annotations

import pytest
from google.api_core import exceptions

from connector.publish_errors import (
    PublishErrorClass,
    classify_publish_error,
    retry_delay,
    status_name,
)

RETRY, SPLIT, REJECT = PublishErrorClass.RETRY, PublishErrorClass.SPLIT, PublishErrorClass.REJECT


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (exceptions.ServiceUnavailable("x"), RETRY),
        (exceptions.DeadlineExceeded("x"), RETRY),
        (exceptions.TooManyRequests("x"), RETRY),  # RESOURCE_EXHAUSTED
        (exceptions.InternalServerError("x"), RETRY),
        (exceptions.Aborted("x"), RETRY),
        (exceptions.Unknown("x"), RETRY),
        (exceptions.Cancelled("x"), RETRY),
        (exceptions.Unauthenticated("x"), RETRY),
        (exceptions.InvalidArgument("Some messages are empty"), SPLIT),
        (exceptions.InvalidArgument("Request payload size exceeds the limit"), SPLIT),
        (exceptions.FailedPrecondition("x"), SPLIT),
        (exceptions.OutOfRange("x"), SPLIT),
        (exceptions.NotFound("Topic not found"), REJECT),
        (exceptions.PermissionDenied("x"), REJECT),
        (exceptions.MethodNotImplemented("x"), REJECT),
        (TypeError("bad attribute value"), SPLIT),
        (ValueError("bad protobuf field"), SPLIT),
        (ConnectionResetError("peer reset"), RETRY),
        (TimeoutError(), RETRY),
        (exceptions.RetryError("gave up", cause=None), RETRY),
        (RuntimeError("unforeseen"), RETRY),
    ],
)
def test_classification(error: BaseException, expected: PublishErrorClass) -> None:
    assert classify_publish_error(error) is expected


def test_status_name() -> None:
    assert status_name(exceptions.NotFound("x")) == "NOT_FOUND"
    assert status_name(OSError("x")) is None


def test_retry_delay_grows_is_capped_and_jittered() -> None:
    assert retry_delay(1, 0.2, 10, draw=lambda: 0.0) == pytest.approx(0.1)
    assert retry_delay(1, 0.2, 10, draw=lambda: 0.999) == pytest.approx(0.2, abs=1e-3)
    assert retry_delay(4, 0.2, 10, draw=lambda: 0.0) == pytest.approx(0.8)
    assert retry_delay(50, 0.2, 10, draw=lambda: 0.0) == pytest.approx(5.0)
    assert retry_delay(50, 0.2, 10, draw=lambda: 0.999) <= 10
    assert retry_delay(0, 0.2, 10, draw=lambda: 0.0) == pytest.approx(0.1)  # never negative
