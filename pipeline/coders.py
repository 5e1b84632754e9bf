"""Explicit, versioned coders for what crosses a shuffle or sits in keyed state.

Dataflow persists encoded elements and state across a job's life (and carries state over an
``--update``), so their bytes are a format: a ``PickleCoder`` would tie them to the exact Python
classes and is slow and large.  Each coder here writes a **version byte** and then orjson; a
version it does not know fails loudly (:class:`UnknownCoderVersion`) instead of mis-decoding.

Dataclasses are encoded by field name (``dataclasses.fields``), so a field added with a default
keeps round-tripping; ``Decimal`` values (the envelope parses JSON fractions as Decimals) are
tagged ``{"$decimal": "1.50"}`` so they come back exact.
"""

from __future__ import annotations

import dataclasses
import struct
from decimal import Decimal
from typing import Any

import apache_beam as beam
import orjson

from pipeline.dedup import EntityState
from pipeline.records import DeadLetter, Frame, ReferenceRecord, TypedEvent

__all__ = [
    "EntityStateCoder",
    "FrameCoder",
    "ShardedEntityStateCoder",
    "ShardedSeenCoder",
    "UnknownCoderVersion",
    "register",
]

_DECIMAL = "$decimal"
_DECIMAL_MARK = b'"$decimal"'
_LENGTH = struct.Struct(">I")


class UnknownCoderVersion(ValueError):
    """Encoded bytes of a format this code does not know (written by a newer or other job)."""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {_DECIMAL: str(value)}
    raise TypeError(f"not encodable: {type(value).__name__}")


def _restore(value: Any) -> Any:
    """Turn ``{"$decimal": text}`` back into Decimals, anywhere in a decoded structure."""
    if isinstance(value, dict):
        if len(value) == 1 and _DECIMAL in value:
            return Decimal(value[_DECIMAL])
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def _loads(data: bytes) -> Any:
    value = orjson.loads(data)
    return _restore(value) if _DECIMAL_MARK in data else value


def _check_version(encoded: bytes, version: int, what: str) -> None:
    if not encoded or encoded[0] != version:
        found = encoded[0] if encoded else "nothing"
        raise UnknownCoderVersion(
            f"{what}: unknown encoding version {found} (this code reads version {version})"
        )


_FIELDS: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _as_dict(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in _names(type(obj))}


class _VersionedCoder(beam.coders.Coder):
    """Shared shape: version byte + payload; equal coders of one class are interchangeable."""

    VERSION = 1

    def is_deterministic(self) -> bool:
        return False  # values, never keys: JSON object order is not a contract

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class FrameCoder(_VersionedCoder):
    """:class:`~pipeline.records.Frame` ⇄ bytes: ``0x02``, the raw data's length (4 bytes,
    big-endian) and bytes, then orjson of the other fields (events, reference records and the
    dead letter by field name).

    Version 1 (same layout, ``0x01``) also carried each event's parsed ``message``, which nothing
    downstream reads (its exact text is ``payload_json``); it still decodes, the message dropped,
    because elements encoded by the previous job are in flight across a Dataflow ``--update``."""

    VERSION = 2
    _READS = (1, 2)

    def encode(self, frame: Frame) -> bytes:
        fields = _as_dict(frame)
        data = fields.pop("data")
        fields["events"] = [_as_dict(e) for e in frame.events]
        fields["reference"] = [_as_dict(r) for r in frame.reference]
        fields["dead_letter"] = None if frame.dead_letter is None else _as_dict(frame.dead_letter)
        return b"\x02" + _LENGTH.pack(len(data)) + data + _dumps(fields)

    def decode(self, encoded: bytes) -> Frame:
        if not encoded or encoded[0] not in self._READS:
            found = encoded[0] if encoded else "nothing"
            raise UnknownCoderVersion(
                f"Frame: unknown encoding version {found} (this code reads versions 1 and 2)"
            )
        (length,) = _LENGTH.unpack_from(encoded, 1)
        start = 1 + _LENGTH.size
        fields = _loads(encoded[start + length :])
        fields["data"] = encoded[start : start + length]
        if encoded[0] == 1:  # version 1: events carried the parsed message as well
            for event in fields["events"]:
                event.pop("message", None)
        fields["events"] = [TypedEvent(**e) for e in fields["events"]]
        fields["reference"] = [ReferenceRecord(**r) for r in fields["reference"]]
        letter = fields["dead_letter"]
        fields["dead_letter"] = None if letter is None else DeadLetter(**letter)
        return Frame(**fields)

    def to_type_hint(self) -> type:
        return Frame


def _state_list(state: EntityState) -> list[Any]:
    return [state.fingerprint, state.values, state.as_of, state.emitted_at]


def _state_of(items: list[Any]) -> EntityState:
    return EntityState(items[0], items[1], items[2], items[3])


class EntityStateCoder(_VersionedCoder):
    """One entity's :class:`~pipeline.dedup.EntityState` (per-key layout): ``0x01`` + orjson
    ``[fingerprint, values, as_of, emitted_at]``."""

    def encode(self, state: EntityState) -> bytes:
        return b"\x01" + _dumps(_state_list(state))

    def decode(self, encoded: bytes) -> EntityState:
        _check_version(encoded, 1, "EntityState")
        return _state_of(_loads(encoded[1:]))

    def to_type_hint(self) -> type:
        return EntityState


class ShardedEntityStateCoder(_VersionedCoder):
    """A shard's ``{entity key: EntityState}`` (sharded layout): ``0x01`` + orjson object."""

    def encode(self, states: dict[str, EntityState]) -> bytes:
        return b"\x01" + _dumps({k: _state_list(v) for k, v in states.items()})

    def decode(self, encoded: bytes) -> dict[str, EntityState]:
        _check_version(encoded, 1, "sharded EntityState")
        return {k: _state_of(v) for k, v in _loads(encoded[1:]).items()}

    def to_type_hint(self) -> type:
        return dict


class ShardedSeenCoder(_VersionedCoder):
    """A shard's ``{frame id: first seen (micros)}`` (sharded layout): ``0x01`` + orjson."""

    def encode(self, seen: dict[str, int]) -> bytes:
        return b"\x01" + orjson.dumps(seen)

    def decode(self, encoded: bytes) -> dict[str, int]:
        _check_version(encoded, 1, "sharded seen ids")
        return orjson.loads(encoded[1:])

    def to_type_hint(self) -> type:
        return dict


def register() -> None:
    """Make :class:`FrameCoder` the coder of every ``Frame`` PCollection (idempotent)."""
    beam.coders.registry.register_coder(Frame, FrameCoder)


register()
