"""What a failed ``Publish`` means for the frames in it: retry, split, or give up on them.

Retrying every error forever (what the forwarder used to do) turns one frame Pub/Sub will never
accept into a stuck batch that holds up to 999 good frames behind it and, once the buffer fills,
stops the whole connector.  Errors therefore fall in three classes, decided here from the gRPC
status alone (no I/O, unit-tested):

* ``RETRY``: the service is (temporarily) unable: back off with jitter and send the same frames.
* ``SPLIT``: the request itself is refused (``INVALID_ARGUMENT``: an empty or too large message,
  a bad attribute; ``FAILED_PRECONDITION``; ``OUT_OF_RANGE``): some frame(s) in it are at fault,
  so the batch is halved until the offenders are alone; they go to the dead-letter record.
* ``REJECT``: Pub/Sub refuses every frame whatever it is (``NOT_FOUND``: the topic is gone,
  ``PERMISSION_DENIED``, ``UNIMPLEMENTED``): splitting cannot help, the whole batch goes to the
  dead-letter record (and the error log says which topic/permission to fix).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum

__all__ = ["PublishErrorClass", "classify_publish_error", "retry_delay", "status_name"]


class PublishErrorClass(StrEnum):
    RETRY = "retry"
    SPLIT = "split"
    REJECT = "reject"


_RETRY = frozenset(
    {
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        "RESOURCE_EXHAUSTED",
        "INTERNAL",
        "ABORTED",
        "UNKNOWN",
        "CANCELLED",
        "UNAUTHENTICATED",  # an expired or not yet refreshed token: the next attempt refreshes it
    }
)
_SPLIT = frozenset({"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"})
_REJECT = frozenset({"NOT_FOUND", "PERMISSION_DENIED", "UNIMPLEMENTED", "ALREADY_EXISTS"})


def status_name(exc: BaseException) -> str | None:
    """The gRPC status name of a ``google.api_core`` error (``None`` for other exceptions)."""
    code = getattr(exc, "grpc_status_code", None)
    name = getattr(code, "name", None)
    return name if isinstance(name, str) else None


def classify_publish_error(exc: BaseException) -> PublishErrorClass:
    """How to treat the frames of a batch whose ``Publish`` raised ``exc``."""
    name = status_name(exc)
    if name in _SPLIT:
        return PublishErrorClass.SPLIT
    if name in _REJECT:
        return PublishErrorClass.REJECT
    if name in _RETRY:
        return PublishErrorClass.RETRY
    if isinstance(exc, ValueError | TypeError | OverflowError):
        # the request could not even be built (e.g. a non-string attribute): a frame is at fault
        return PublishErrorClass.SPLIT
    # transport errors, api_core RetryError, auth refresh failures and anything unforeseen:
    # keeping the frames is the safe default (they are bounded by the buffer and visible)
    return PublishErrorClass.RETRY


def retry_delay(
    attempts: int, base: float, cap: float, draw: Callable[[], float] = random.random
) -> float:
    """Delay before retry number ``attempts`` (1 = first retry): exponential, capped, jittered.

    "Equal jitter": half of the capped exponential ceiling plus a uniform draw over the other
    half, so publisher threads of many instances do not retry in lockstep after a Pub/Sub blip
    while every retry still waits a meaningful time.
    """
    ceiling = min(cap, base * 2 ** min(max(attempts, 1) - 1, 30))
    return ceiling / 2 + draw() * ceiling / 2
