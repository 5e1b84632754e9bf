"""State bytes read and written per element by the two dedup steps, per layout, as the number of
entities per shard grows — the cost Dataflow pays per element (it reads and writes keyed state
through its state backend; the local direct runner encodes it too).

This replays the steps' real DoFns (``pipeline.transforms``) outside Beam, handing them counting
fake state objects that encode every write and decode every read with the state's own coder, as
a runner does; it measures the DoFn logic and its state traffic, not Beam's runtime.  Per-key
state is one fake per key; sharded state one per shard (``--shards``).  The transport shards are
pre-filled with one window of frame ids at ``--rate`` frames/s (steady state); the semantic state
with one emitted state per entity.  Elements are pool totals of random entities, each changed.
Timers are recorded, not fired (pruning runs a few times per window, off the element path).

    python -m benchmarks.bench_dedup_state [--entities 64 640 6400] [--elements 3000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict
from typing import Any

from apache_beam.utils.timestamp import Timestamp

from benchmarks.stats import percentile, report
from pipeline.core import process_frame
from pipeline.records import Frame
from pipeline.transforms import (
    PerKeySemanticDedupFn,
    PerKeyTransportDedupFn,
    ShardedSemanticDedupFn,
    ShardedTransportDedupFn,
)
from testsupport import examples

WINDOW_S = 600
TTL_S = 3600


class CountingState:
    """A ReadModifyWriteState that stores encoded bytes and counts them both ways."""

    def __init__(self, coder: Any, counts: dict[str, int]) -> None:
        self.coder = coder
        self.counts = counts
        self.encoded: bytes | None = None

    def read(self) -> Any:
        if self.encoded is None:
            return None
        self.counts["read"] += len(self.encoded)
        return self.coder.decode(self.encoded)

    def write(self, value: Any) -> None:
        self.encoded = self.coder.encode(value)
        self.counts["written"] += len(self.encoded)

    def clear(self) -> None:
        self.encoded = None


class FakeTimer:
    def set(self, when: Timestamp) -> None:
        self.when = when


class Step:
    """One keyed DoFn with its per-key fake state, called as the runner would call it."""

    def __init__(self, fn: Any, specs: dict[str, Any]) -> None:
        self.fn = fn
        self.specs = specs  # process parameter name → state spec (timers are "expire")
        self.counts = {"read": 0, "written": 0}
        self.keys: dict[str, dict[str, Any]] = defaultdict(self._new_key)

    def _new_key(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            name: CountingState(spec.coder, self.counts) for name, spec in self.specs.items()
        }
        params["expire"] = FakeTimer()
        return params

    def __call__(self, element: tuple[str, Frame], ts_micros: int) -> list[Any]:
        params = self.keys[element[0]]
        return list(self.fn.process(element, timestamp=Timestamp(micros=ts_micros), **params))


def _steps(layout: str, shards: int) -> tuple[Step, Step]:
    if layout == "per_key":
        transport = Step(PerKeyTransportDedupFn(WINDOW_S), {"seen": PerKeyTransportDedupFn.SEEN})
        semantic = Step(PerKeySemanticDedupFn(TTL_S), {"last": PerKeySemanticDedupFn.LAST})
    else:
        transport = Step(
            ShardedTransportDedupFn(WINDOW_S, shards),
            {
                "state": ShardedTransportDedupFn.STATE,
                "next_expiry": ShardedTransportDedupFn.NEXT_EXPIRY,
            },
        )
        semantic = Step(
            ShardedSemanticDedupFn(TTL_S),
            {
                "state": ShardedSemanticDedupFn.STATE,
                "next_expiry": ShardedSemanticDedupFn.NEXT_EXPIRY,
            },
        )
    return transport, semantic


def _frames(entities: int, n: int, seed: int) -> list[Frame]:
    products = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(entities)]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        amount = round(rng.uniform(100, 90000), 2)
        message = examples.example_message(
            "PoolTotalChanged",
            productId=products[i % entities] if i < entities else rng.choice(products),
            total={
                "grossAmounts": [{"decimalAmount": amount, "currency": {"code": "GBP"}}],
                "netAmounts": [{"decimalAmount": amount * 0.8, "currency": {"code": "GBP"}}],
            },
        )
        _, attrs = examples.ingress_message(b"", frame_id=f"{seed:04x}{i:028x}")
        out.append(process_frame(examples.frame("PoolTotalChanged", message), attrs))
    return out


def _key(layout: str, key: str, shards: int) -> str:
    from pipeline.dedup import shard_of

    return key if layout == "per_key" else shard_of(key, shards)


def measure(layout: str, entities: int, elements: int, shards: int, rate: float) -> dict[str, Any]:
    transport, semantic = _steps(layout, shards)
    step_micros = int(1_000_000 / rate)
    now = 0
    if layout == "sharded":  # steady state: one window of frame ids already in the shards
        per_shard = int(WINDOW_S * rate / shards)
        for s in range(shards):
            state = transport.keys[f"#{s}"]["state"]
            state.write({f"old-{s}-{i:024x}": i * step_micros for i in range(per_shard)})
            now = max(now, per_shard * step_micros)
    warm = _frames(entities, entities, seed=1)  # one emitted state per entity
    for frame in warm:
        now += step_micros
        for out in transport((_key(layout, frame.frame_id, shards), frame), now):
            if isinstance(out, tuple):
                semantic(out, now)
    frames = _frames(entities, elements, seed=2)
    counts = {name: dict(step.counts) for name, step in (("t", transport), ("s", semantic))}
    latencies = []
    started = time.perf_counter()
    for frame in frames:
        now += step_micros
        t0 = time.perf_counter()
        for out in transport((_key(layout, frame.frame_id, shards), frame), now):
            if isinstance(out, tuple):
                semantic(out, now)
        latencies.append((time.perf_counter() - t0) * 1e6)
    elapsed = time.perf_counter() - started

    def per_element(step: Step, name: str, what: str) -> float:
        return (step.counts[what] - counts[name][what]) / elements

    return {
        "transport_read_B": per_element(transport, "t", "read"),
        "transport_written_B": per_element(transport, "t", "written"),
        "semantic_read_B": per_element(semantic, "s", "read"),
        "semantic_written_B": per_element(semantic, "s", "written"),
        "elements_per_s": elements / elapsed,
        "p50_us": percentile(latencies, 50),
        "p99_us": percentile(latencies, 99),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, nargs="+", default=[64, 640, 6400])
    parser.add_argument("--elements", type=int, default=3000)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--rate", type=float, default=20.0, help="frames/s (transport window fill)")
    parser.add_argument("--layouts", nargs="+", default=["sharded", "per_key"])
    args = parser.parse_args(argv)
    for entities in args.entities:
        for layout in args.layouts:
            numbers = measure(layout, entities, args.elements, args.shards, args.rate)
            report(
                f"dedup state {layout:8s}",
                entities=entities,
                entities_per_shard=entities // args.shards,
                **numbers,
            )


if __name__ == "__main__":
    main()
