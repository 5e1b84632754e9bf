"""The catalog's message types by name, for tests that name one that must exist."""

from __future__ import annotations

from contract import catalog
from contract.catalog import MessageType


def message_type(name: str) -> MessageType:
    """``catalog.by_name(name)``; fails the test, naming ``name``, when the catalog has none
    (``by_name`` returns ``None``, which would fail later as an unrelated AttributeError)."""
    spec = catalog.by_name(name)
    assert spec is not None, f"no message type {name!r} in contract/catalog.py"
    return spec
