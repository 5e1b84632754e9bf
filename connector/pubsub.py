"""The Pub/Sub edge: batched ``Publish`` calls to the ingress topic.

Thin on purpose: buffering, batching decisions, retries of failed batches and backpressure live in
``connector.forwarder``; this module only turns a batch of frames into one ``Publish`` request on
the ``PublisherClient``'s transport.  Building the request from raw protobuf messages (instead of
the client's per-message futures, threads and callbacks) is what lets one process forward
thousands of frames a second on a small CPU.  The client's own retry is switched off: a request
fails fast (within ``timeout``) and the forwarder decides, per error class, whether to retry with
jitter, split the batch or dead-letter (``connector.publish_errors``); a hidden 60 s retry loop
would also make a shutdown deadline impossible to keep.  Honours ``PUBSUB_EMULATOR_HOST``.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.cloud import pubsub_v1
from google.pubsub_v1.types import PublishRequest, PubsubMessage

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_MESSAGES", "IngressPublisher"]

MAX_BATCH_MESSAGES = 1000
"""Pub/Sub accepts at most 1,000 messages per Publish request."""

MAX_BATCH_BYTES = 8_000_000
"""Pub/Sub accepts 10 MB per request; leave room for attributes and framing."""

_RawMessage = PubsubMessage.pb()
_RawRequest = PublishRequest.pb()


class IngressPublisher:
    """Publishes batches of raw frames to ``projects/<project>/topics/<topic>``."""

    def __init__(self, project: str, topic: str, timeout: float = 10.0) -> None:
        self.client = pubsub_v1.PublisherClient()
        self.topic_path = self.client.topic_path(project, topic)
        self.timeout = timeout

    def publish_batch(self, messages: Sequence[tuple[bytes, dict[str, str]]]) -> list[str]:
        """Publish ``(data, attributes)`` pairs in one request; returns the message ids.

        Raises the client's exception when Pub/Sub refuses (the caller classifies it).
        """
        request = _RawRequest(
            topic=self.topic_path,
            messages=[_RawMessage(data=data, attributes=attrs) for data, attrs in messages],
        )
        response = self.client.api.publish(
            request=PublishRequest.wrap(request), retry=None, timeout=self.timeout
        )
        return list(response.message_ids)

    def close(self) -> None:
        """Release the client's channel."""
        self.client.stop()
