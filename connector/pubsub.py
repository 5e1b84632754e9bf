"""The Pub/Sub edge: one batching ``PublisherClient`` for the ingress topic.

Thin on purpose: batching, retries of failed futures and backpressure live in
``connector.forwarder``; this module only binds the Google client to the topic.  It honours
``PUBSUB_EMULATOR_HOST`` like every Google client.
"""

from __future__ import annotations

from concurrent.futures import Future

from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.types import BatchSettings

__all__ = ["IngressPublisher"]


class IngressPublisher:
    """Publishes raw frames to ``projects/<project>/topics/<topic>``.

    Batches close after 500 messages, 1 MB or 5 ms: Tote frames are a few hundred bytes, so at
    thousands of frames a second a batch fills in well under the latency budget, and when traffic
    is sparse a frame waits at most 5 ms.
    """

    def __init__(
        self,
        project: str,
        topic: str,
        max_messages: int = 500,
        max_bytes: int = 1_000_000,
        max_latency: float = 0.005,
    ) -> None:
        self.client = pubsub_v1.PublisherClient(
            batch_settings=BatchSettings(
                max_messages=max_messages, max_bytes=max_bytes, max_latency=max_latency
            )
        )
        self.topic_path = self.client.topic_path(project, topic)

    def publish(self, data: bytes, attributes: dict[str, str]) -> Future:
        return self.client.publish(self.topic_path, data, **attributes)

    def close(self) -> None:
        """Send what is batched and release the client's threads."""
        self.client.stop()
