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

These are patches of Beam internals, so they are guarded: :func:`install` checks that the
installed Beam is the release they were written for (:data:`BEAM_VERSION_PREFIX`) and that every
patched function is where it was, with the signature it had, and raises
:class:`BeamPatchError` otherwise — a silent miss would only show up as a slow local pipeline.
:func:`uninstall` puts every stock function back, and :func:`patched` scopes both, so tests can
run patched and stock Beam in any order.  Dataflow never imports this module.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = [
    "BEAM_VERSION_PREFIX",
    "PULL_MAX_MESSAGES",
    "PULL_TIMEOUT_S",
    "UNLIMITED_CHANNEL_OPTIONS",
    "BeamPatchError",
    "install",
    "is_installed",
    "patched",
    "uninstall",
]

BEAM_VERSION_PREFIX = "2.77."
"""The Beam release these patches were written against (setup.py pins ``apache-beam==2.77.*``)."""

PULL_MAX_MESSAGES = 100
PULL_TIMEOUT_S = 1.0
UNLIMITED_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
)
"""What the Pub/Sub client sets on its own channels, except on the emulator's."""

_log = logging.getLogger(__name__)
_lock = threading.Lock()


class BeamPatchError(RuntimeError):
    """The installed Beam is not the one the local-runner patches were written for."""


@dataclass(frozen=True)
class _Patch:
    """One attribute replaced on one owner (a module or a class), and what it replaced."""

    owner: Any
    name: str
    original: Any
    replacement: Any


_applied: list[_Patch] = []


def is_installed() -> bool:
    """Whether the patches are currently applied."""
    return bool(_applied)


def install() -> None:
    """Apply every patch (idempotent); raises :class:`BeamPatchError` if Beam has moved on.

    Either every patch is applied or none is: all targets are checked before anything changes.
    """
    with _lock:
        if _applied:
            return
        patches = _plan()
        for patch in patches:
            setattr(patch.owner, patch.name, patch.replacement)
        _applied.extend(patches)
    _log.info("local runner speed-ups installed (Beam %s)", _beam_version())


def uninstall() -> None:
    """Put back every stock Beam function :func:`install` replaced (no-op when not installed)."""
    with _lock:
        for patch in reversed(_applied):
            setattr(patch.owner, patch.name, patch.original)
        _applied.clear()


@contextlib.contextmanager
def patched() -> Iterator[None]:
    """The patches for the duration of the ``with`` block; an outer installation is kept."""
    already = is_installed()
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()


# --- the guards -------------------------------------------------------------------------------


def _beam_version() -> str:
    import apache_beam

    return str(apache_beam.__version__)


def _check_version() -> None:
    version = _beam_version()
    if not version.startswith(BEAM_VERSION_PREFIX):
        raise BeamPatchError(
            f"pipeline/local_runner.py patches Beam {BEAM_VERSION_PREFIX}x internals but Beam "
            f"{version} is installed: re-check each patched function against the new release "
            "(and re-measure `make bench`), then update BEAM_VERSION_PREFIX"
        )


def _stock(owner: Any, name: str, parameters: tuple[str, ...]) -> Any:
    """``owner.name``, checked to exist and to take exactly ``parameters``."""
    where = getattr(owner, "__name__", repr(owner))
    if not hasattr(owner, name):
        raise BeamPatchError(f"Beam {_beam_version()}: {where}.{name} no longer exists")
    function = getattr(owner, name)
    try:
        found = tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError) as exc:
        raise BeamPatchError(f"Beam {_beam_version()}: {where}.{name} is not a function") from exc
    if found != parameters:
        raise BeamPatchError(
            f"Beam {_beam_version()}: {where}.{name} takes {found}, the patch expects {parameters}"
        )
    return function


def _same(owner: ModuleType, name: str, expected: Any) -> Any:
    """``owner.name``, checked to be ``expected`` (a ``from x import name`` of the stock one)."""
    found = getattr(owner, name, None)
    if found is not expected:
        raise BeamPatchError(
            f"Beam {_beam_version()}: {owner.__name__}.{name} is no longer "
            f"{getattr(expected, '__module__', '?')}.{name}"
        )
    return found


def _plan() -> list[_Patch]:
    """Every patch, all targets checked first (see :class:`BeamPatchError`)."""
    _check_version()
    try:
        import objsize
        from apache_beam.io.gcp import bigquery
        from apache_beam.runners.direct import transform_evaluator
        from apache_beam.transforms import core, userstate
    except ImportError as exc:
        raise BeamPatchError(f"Beam {_beam_version()}: a patched module moved: {exc}") from exc

    get_dofn_specs = _stock(userstate, "get_dofn_specs", ("dofn",))
    is_stateful_dofn = _stock(userstate, "is_stateful_dofn", ("dofn",))
    _same(transform_evaluator, "get_dofn_specs", get_dofn_specs)
    _same(transform_evaluator, "is_stateful_dofn", is_stateful_dofn)
    for name in ("CallableWrapperDoFn", "_DoFnParam"):
        if not isinstance(getattr(core, name, None), type):
            raise BeamPatchError(
                f"Beam {_beam_version()}: apache_beam.transforms.core.{name} moved"
            )
    deep_size = _same(bigquery, "get_deep_size", objsize.get_deep_size)
    evaluator = getattr(transform_evaluator, "_PubSubReadEvaluator", None)
    if evaluator is None:
        raise BeamPatchError(f"Beam {_beam_version()}: _PubSubReadEvaluator moved")
    _stock(evaluator, "_get_subscriber_client", ("transform",))
    # The classmethod object itself, so that uninstall() restores exactly what was there.
    subscriber_client = evaluator.__dict__["_get_subscriber_client"]
    if not isinstance(subscriber_client, classmethod):
        raise BeamPatchError(
            f"Beam {_beam_version()}: _PubSubReadEvaluator._get_subscriber_client "
            "is no longer a classmethod"
        )

    memo_specs, memo_stateful = _memoised_specs(get_dofn_specs, core)
    return [
        _Patch(userstate, "get_dofn_specs", get_dofn_specs, memo_specs),
        _Patch(userstate, "is_stateful_dofn", is_stateful_dofn, memo_stateful),
        _Patch(transform_evaluator, "get_dofn_specs", get_dofn_specs, memo_specs),
        _Patch(transform_evaluator, "is_stateful_dofn", is_stateful_dofn, memo_stateful),
        _Patch(bigquery, "get_deep_size", deep_size, json_size),
        _Patch(
            evaluator,
            "_get_subscriber_client",
            subscriber_client,
            classmethod(_tuned_subscriber_client(subscriber_client.__func__)),
        ),
    ]


# --- the replacements -------------------------------------------------------------------------


def _memoised_specs(
    original: Callable[[Any], Any], core: ModuleType
) -> tuple[Callable[[Any], Any], Callable[[Any], bool]]:
    """``get_dofn_specs`` and ``is_stateful_dofn`` over a per-installation cache."""
    cache: dict[Any, Any] = {}

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

    return get_dofn_specs, is_stateful_dofn


def json_size(obj: Any) -> int:
    """The size BigQuery's 10 MB insert limit is about: the row's JSON text (see module doc)."""
    import orjson

    try:
        return len(orjson.dumps(obj, default=str))
    except TypeError:
        return len(repr(obj))


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


class _TunedPull:
    """A subscriber client whose ``pull`` asks for more messages and waits less (see module doc),
    through ``pull`` when given (the emulator's unlimited channel), else the client's own.

    A wrapper rather than a change to Beam's cached client, so :func:`uninstall` leaves no trace.
    """

    def __init__(self, client: Any, pull: Callable[..., Any] | None = None) -> None:
        self._client = client
        self._pull = pull if pull is not None else client.pull

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["max_messages"] = max(kwargs.get("max_messages") or 0, PULL_MAX_MESSAGES)
        kwargs["timeout"] = min(kwargs.get("timeout") or PULL_TIMEOUT_S, PULL_TIMEOUT_S)
        return self._pull(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _tuned_subscriber_client(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Beam's ``_get_subscriber_client`` returning a :class:`_TunedPull`, one per client and
    installation (Beam asks once per bundle; the emulator channel is opened once)."""
    tuned: dict[int, tuple[Any, _TunedPull]] = {}  # the client is kept, so its id stays unique

    def _get_subscriber_client(cls: Any, transform: Any) -> Any:
        client = original(cls, transform)
        entry = tuned.get(id(client))
        if entry is None or entry[0] is not client:
            entry = tuned[id(client)] = (client, _TunedPull(client, _emulator_pull()))
        return entry[1]

    return _get_subscriber_client
