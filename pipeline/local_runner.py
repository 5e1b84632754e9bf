"""A speed-up for Beam's local (direct) runner, applied only when the pipeline runs on it.

The bundle-based direct runner re-inspects every DoFn's method signatures at the start of
every bundle (``userstate.get_dofn_specs``: ``inspect.signature`` of each method, several times
over), and its Pub/Sub reader makes bundles of at most 10 messages.  Profiled on our pipeline
that introspection was ~45% of the local runner's CPU — the answer cannot change between bundles
of the same DoFn class, so it is memoised per class here.

DoFns are cached by class; a ``Map``/``FlatMap`` wrapper (``CallableWrapperDoFn``) takes its
signature from the wrapped function, so it is cached by that function's code object, unless a
default argument is a DoFn parameter marker (then it is inspected every time, as before).

Second, ``WriteToBigQuery`` sizes every row with ``objsize`` (a deep object walk, ~18% of local
CPU) only to compare it with the 10 MB insert limit; locally the length of the row's JSON text
is used instead — the same quantity the limit is about.

Third, its Pub/Sub reader pulls at most 10 messages per bundle and holds an empty pull for
30 s, during which no processing-time timer fires.  Locally the reader pulls up to
:data:`PULL_MAX_MESSAGES` per bundle (so every later step pays its per-bundle overhead ten times
less often) and waits at most :data:`PULL_TIMEOUT_S` on an empty subscription.  The direct
runner acknowledges what it pulls at once either way (frames in flight are lost if the local
pipeline process dies; Dataflow acknowledges only after the results are durable).  Against the
emulator the Pub/Sub client opens its gRPC channel without its usual options, so a pull response
over gRPC's default 4 MiB receive limit failed with ``RESOURCE_EXHAUSTED`` and was redelivered
forever, holding back every frame pulled with it; pulls here go through a channel without that
limit (:data:`UNLIMITED_CHANNEL_OPTIONS`), so an oversized frame reaches its dead letter.

Dataflow never imports this module.  Beam is pinned (``apache-beam==2.77.*``); if a future Beam
moves these functions, :func:`install` does nothing and says so.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["PULL_MAX_MESSAGES", "PULL_TIMEOUT_S", "UNLIMITED_CHANNEL_OPTIONS", "install"]

PULL_MAX_MESSAGES = 100
PULL_TIMEOUT_S = 1.0
UNLIMITED_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
)
"""What the Pub/Sub client sets on its own channels, except on the emulator's."""

_log = logging.getLogger(__name__)
_installed = False


def install() -> bool:
    """Memoise ``get_dofn_specs`` for the direct runner; returns whether it is active."""
    global _installed
    if _installed:
        return True
    try:
        from apache_beam.runners.direct import direct_userstate, transform_evaluator
        from apache_beam.transforms import core, userstate
    except ImportError:  # pragma: no cover - Beam layout changed
        _log.warning("local runner speed-up not installed: Beam's layout changed")
        return False
    original = userstate.get_dofn_specs
    cache: dict[type, Any] = {}

    def cache_key(dofn: Any) -> Any:
        if not isinstance(dofn, core.CallableWrapperDoFn):
            return type(dofn)
        fn = getattr(dofn, "_fn", None)
        code = getattr(fn, "__code__", None)
        defaults = getattr(fn, "__defaults__", None) or ()
        if code is None or any(isinstance(d, core._DoFnParam) for d in defaults):
            return None
        return (type(dofn), code)

    def get_dofn_specs(dofn: Any) -> Any:
        key = cache_key(dofn)
        if key is None:
            return original(dofn)
        specs = cache.get(key)
        if specs is None:
            specs = cache[key] = original(dofn)
        return specs

    def is_stateful_dofn(dofn: Any) -> bool:
        state_specs, timer_specs = get_dofn_specs(dofn)
        return bool(state_specs or timer_specs)

    for module in (userstate, transform_evaluator, direct_userstate):
        if hasattr(module, "get_dofn_specs"):
            module.get_dofn_specs = get_dofn_specs
        if hasattr(module, "is_stateful_dofn"):
            module.is_stateful_dofn = is_stateful_dofn
    _install_row_size()
    _install_pubsub_pull(transform_evaluator)
    _installed = True
    return True


def _install_row_size() -> None:
    try:
        from apache_beam.io.gcp import bigquery
    except ImportError:  # pragma: no cover
        return
    import orjson

    def json_size(obj: Any) -> int:
        try:
            return len(orjson.dumps(obj, default=str))
        except TypeError:
            return len(repr(obj))

    if hasattr(bigquery, "get_deep_size"):
        bigquery.get_deep_size = json_size


def _emulator_pull() -> Any:
    """``pull`` of a subscriber on the emulator without gRPC's 4 MiB receive limit, or ``None``."""
    import os

    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        return None
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    channel = grpc.insecure_channel(host, options=list(UNLIMITED_CHANNEL_OPTIONS))
    transport = SubscriberGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return pubsub_v1.SubscriberClient(transport=transport).pull


def _install_pubsub_pull(transform_evaluator: Any) -> None:
    evaluator = getattr(transform_evaluator, "_PubSubReadEvaluator", None)
    if evaluator is None or not hasattr(evaluator, "_get_subscriber_client"):
        _log.warning("local Pub/Sub pull tuning not installed: Beam's layout changed")
        return
    original = evaluator._get_subscriber_client.__func__

    def _get_subscriber_client(cls: Any, transform: Any) -> Any:
        client = original(cls, transform)
        if not getattr(client, "_tote_local_pull", False):
            pull = _emulator_pull() or client.pull

            def bigger_shorter_pull(*args: Any, **kwargs: Any) -> Any:
                kwargs["max_messages"] = max(kwargs.get("max_messages") or 0, PULL_MAX_MESSAGES)
                kwargs["timeout"] = min(kwargs.get("timeout") or PULL_TIMEOUT_S, PULL_TIMEOUT_S)
                return pull(*args, **kwargs)

            client.pull = bigger_shorter_pull
            client._tote_local_pull = True
        return client

    evaluator._get_subscriber_client = classmethod(_get_subscriber_client)
