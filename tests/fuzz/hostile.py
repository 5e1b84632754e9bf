"""Hostile ingress messages (Hypothesis strategies) and the checks every outcome must pass.

The strategies build what an attacker, a buggy Tote release or a broken connector could put on
the ingress topic: frames of both subprotocols whose catalog messages have wrong types at any
path, GraphQL error frames of every shape, non-JSON and non-UTF-8 bytes, deep nesting, frames
around the size limit, and attributes with impossible timestamps, non-ASCII digits, huge values
and too many keys.  :func:`outcome_problems` lists every way one ``process_frame`` outcome would
break BigQuery or Pub/Sub (empty = it would be stored and published as is).

The end-to-end fuzz run draws its corpus from the same strategies (:func:`draw`), so the unit
properties and the emulator run exercise the same inputs.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contract import catalog, ingress
from devstack.insert_validation import row_problems
from pipeline import records
from pipeline.core import TEST_MESSAGE_TYPE
from pipeline.envelope import MAX_NESTING
from pipeline.query_pages import PAGE_MESSAGE_TYPES
from pipeline.records import Frame
from pipeline.transforms import table_for_row
from tests.catalog_types import message_type
from testsupport import examples, query_examples

KNOWN_STAGES = frozenset(
    ("contract", "oversized", "parse", "graphql_error", "unknown_type", "validate")
)
"""Dead-letter stages bad *input* may get; ``internal`` means a bug and fails the fuzz tests."""

MAX_ROW_BYTES = 10_000_000
"""BigQuery's streaming-insert limit for one row (as JSON)."""

# --- building blocks ---------------------------------------------------------------------------

# Pub/Sub strings are UTF-8: no lone surrogates in attributes (frames may still *escape* one).
_chars = st.characters(exclude_categories=["Cs"])
texts = st.text(_chars, max_size=12)
_odd_strings = st.sampled_from(
    [
        "",
        " ",
        "1e29",
        "1E+29",
        "NaN",
        "Infinity",
        "-0",
        "0x1F",
        "\uff11\uff12",
        "\u0663",
        "null",
        "true",
        "\x00",
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    _odd_strings,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
"""Any JSON value (small): what a wrong-typed field, payload or error may hold."""

WRONG_TYPES: tuple[Any, ...] = (
    None,
    True,
    0,
    123,
    -1.5,
    1e29,
    "",
    " ",
    "x",
    "1E+29",
    [],
    [1],
    ["a", None],
    {},
    {"a": 1},
    {"decimalAmount": "1"},
)
"""The fixed wrong values tried at every path of every catalog type (see test_process_frame)."""


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (dict keys / list indices) in a JSON value, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


_DELETE = object()


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced by ``new`` (or deleted)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        child = replaced(value[head], rest, new)
        if child is _DELETE:
            del out[head]
        else:
            out[head] = child
        return out
    out_list = list(value)
    child = replaced(value[head], rest, new)
    if child is _DELETE:
        del out_list[head]
    else:
        out_list[head] = child
    return out_list


def frame_text(root_field: str, message: Any, *, kind: str = "data", op_id: Any = "1") -> str:
    return json.dumps({"id": op_id, "type": kind, "payload": {"data": {root_field: message}}})


# --- frames ------------------------------------------------------------------------------------

specs = st.sampled_from(catalog.CATALOG)
data_kinds = st.sampled_from(["data", "next"])  # graphql-ws, graphql-transport-ws
op_ids = st.one_of(st.just("1"), texts, st.integers(), st.none(), json_values)


@st.composite
def mutated_messages(draw: st.DrawFn) -> tuple[catalog.MessageType, Any]:
    """A catalog type's example message with 1-3 paths given wrong values or removed."""
    spec = draw(specs)
    message: Any = examples.example_message(spec.name)
    for _ in range(draw(st.integers(1, 3))):
        all_paths = list(paths(message))
        if not all_paths or draw(st.integers(0, 9)) == 0:
            message = draw(json_values) if draw(st.booleans()) else message
            if not isinstance(message, dict):
                break
            message = {**message, draw(texts): draw(json_values)}
            continue
        path = draw(st.sampled_from(all_paths))
        new = draw(st.one_of(st.sampled_from(WRONG_TYPES), json_values, st.just(_DELETE)))
        message = replaced(message, path, new)
    return spec, message


@st.composite
def catalog_frames(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A data frame of either subprotocol around a (mutated) catalog message; the subscription
    attribute to send with it (right, wrong, absent, or the only clue for an aliased field)."""
    spec, message = draw(mutated_messages()) if draw(st.booleans()) else (draw(specs), None)
    if message is None:
        message = examples.example_message(spec.name)
    root = draw(st.sampled_from([spec.field, spec.field, "alias", spec.field.upper()]))
    body: dict[str, Any] = {
        "id": draw(op_ids),
        "type": draw(data_kinds),
        "payload": {"data": {root: message}},
    }
    if draw(st.integers(0, 4)) == 0:
        body["payload"]["errors"] = draw(error_lists)
    if draw(st.integers(0, 9)) == 0:  # two root fields, or data that is not an object
        body["payload"]["data"] = draw(
            st.sampled_from([{root: message, "other": 1}, [message], "x", None, {}])
        )
    subscription = draw(st.sampled_from([spec.field, None, "onNothing", draw(texts)]))
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", errors="surrogatepass"), subscription


error_objects = st.one_of(
    st.fixed_dictionaries(
        {"message": json_values},
        optional={"extensions": json_values, "path": json_values, "locations": json_values},
    ),
    json_values,
)
error_lists = st.one_of(st.lists(error_objects, max_size=3), error_objects)


@st.composite
def error_frames(draw: st.DrawFn) -> bytes:
    """GraphQL errors: ``error`` frames (list or single object) and data frames with errors."""
    if draw(st.booleans()):
        body: Any = {"type": "error", "id": draw(op_ids), "payload": draw(error_lists)}
    else:
        body = {
            "type": draw(data_kinds),
            "id": draw(op_ids),
            "payload": {"data": draw(st.sampled_from([None, {}])), "errors": draw(error_lists)},
        }
    return json.dumps(body).encode()


@st.composite
def odd_frames(draw: st.DrawFn) -> bytes:
    """Frames whose envelope is wrong: any JSON value, wrong ``type``/``payload`` types."""
    body = draw(
        st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"type": json_values}, optional={"id": json_values, "payload": json_values}
            ),
            st.fixed_dictionaries(
                {"type": st.sampled_from(["data", "next", "ka", "complete", "connection_ack"])},
                optional={"id": op_ids, "payload": json_values},
            ),
        )
    )
    return json.dumps(body).encode()


@st.composite
def broken_bytes(draw: st.DrawFn) -> bytes:
    """Not JSON, not UTF-8, truncated, or a valid frame with one byte changed."""
    good = examples.frame(draw(specs).name)
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if choice == 1:
        return good[: draw(st.integers(0, len(good) - 1))]
    index = draw(st.integers(0, len(good) - 1))
    byte = draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"{", b'"', b"\\"]))
    return good[:index] + byte + good[index + 1 :]


@st.composite
def deep_frames(draw: st.DrawFn) -> bytes:
    """A catalog frame with a value nested around and far beyond the limit."""
    depth = draw(
        st.sampled_from([MAX_NESTING - 5, MAX_NESTING + 1, 300, 990, 1000, 1020, 1030, 5000])
    )
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    # PoolTotalChanged needs only productId: the deep value would reach a typed event
    spec = draw(st.one_of(st.just(message_type("PoolTotalChanged")), specs))
    inner = opener * depth + "1" + closer * depth
    text = frame_text(spec.field, {"productId": "p", "deep": "@"}, kind=draw(data_kinds))
    return text.replace('"@"', inner).encode()


@st.composite
def big_frames(draw: st.DrawFn) -> bytes:
    """A valid catalog frame padded to just under, at and over the frame size limit."""
    size = draw(st.sampled_from([ingress.MAX_FRAME_BYTES, ingress.MAX_FRAME_BYTES + 1, 4_500_000]))
    spec = draw(specs)
    pad_byte = draw(st.sampled_from(["x", "\\u0001", "é"]))
    text = frame_text(spec.field, {**examples.example_message(spec.name), "pad": "@"})
    head = text.encode()
    pad_bytes = len(pad_byte.encode())
    fill = max(0, (size - len(head) + 3) // pad_bytes)
    return text.replace('"@"', '"' + pad_byte * fill + '"').encode()


@st.composite
def query_pages(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A reconciliation sweep's response page (``source=query``) with 1-3 paths given wrong
    values or removed, and the sweep's attributes (``request_started_at`` sometimes hostile)."""
    operation = draw(st.sampled_from(["products", "events"]))
    body: Any = (
        query_examples.products_page() if operation == "products" else query_examples.events_page()
    )
    for _ in range(draw(st.integers(0, 3))):
        all_paths = list(paths(body))
        if not all_paths:
            break
        path = draw(st.sampled_from(all_paths))
        new = draw(st.one_of(st.sampled_from(WRONG_TYPES), json_values, st.just(_DELETE)))
        body = replaced(body, path, new)
    data, attrs = query_examples.query_page_message(body, operation)
    if draw(st.integers(0, 4)) == 0:
        attrs[ingress.ATTR_REQUEST_STARTED_AT] = draw(timestamps())
    if draw(st.integers(0, 9)) == 0:
        attrs[ingress.ATTR_OPERATION] = draw(st.sampled_from(["products", "events", "x", ""]))
    return data, attrs


frames_data = st.one_of(
    catalog_frames().map(lambda t: t[0]),
    error_frames(),
    odd_frames(),
    broken_bytes(),
    deep_frames(),
)
"""Every kind of hostile frame except the (slow to build) big ones."""

# --- attributes --------------------------------------------------------------------------------

_DIGIT_SETS = ("٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗")  # noqa: RUF001 - non-ASCII digits on purpose


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """``received_at`` values: valid in several forms, impossible, foreign digits, garbage."""
    when = draw(st.datetimes(timezones=st.just(UTC)))
    good = ingress.format_timestamp(when)
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return good
    if choice == 1:  # fields out of range, in the canonical shape
        y, mo, d, h, mi, s = (draw(st.integers(0, hi)) for hi in (9999, 99, 99, 99, 99, 99))
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.000Z"
    if choice == 2:  # one or all ASCII digits swapped for another script's
        digits = draw(st.sampled_from(_DIGIT_SETS))
        if draw(st.booleans()):
            return good.translate(str.maketrans("0123456789", digits))
        index = draw(st.sampled_from([i for i, c in enumerate(good) if c.isdigit()]))
        return good[:index] + digits[int(good[index])] + good[index + 1 :]
    if choice == 3:  # other valid RFC 3339 forms, offsets near the ends of time
        offset = draw(st.sampled_from(["Z", "z", "+00:00", "-23:59", "+14:00", "+24:00"]))
        return (
            when.strftime("%Y-%m-%dT%H:%M:%S")
            + draw(st.sampled_from(["", ".5", ".123456789"]))
            + offset
        )
    if choice == 4:
        return draw(st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]))
    return draw(st.text(_chars, max_size=30))


long_values = st.integers(1000, 1100).map(lambda n: "é" * n)  # > 1,024 bytes, < 1,100 chars


@st.composite
def attributes(draw: st.DrawFn) -> dict[str, str]:
    """Ingress attributes: mostly what the connector sends, with any field missing or hostile."""
    attrs: dict[str, str] = {}
    for name, strategy in (
        (ingress.ATTR_FRAME_ID, st.one_of(st.just(ingress.new_id()), texts, long_values)),
        (ingress.ATTR_RECEIVED_AT, timestamps()),
        (ingress.ATTR_CONNECTION_ID, st.one_of(st.just("conn-fuzz"), texts)),
        (ingress.ATTR_PROTOCOL, st.sampled_from([*ingress.PROTOCOLS, "x"])),
        (
            ingress.ATTR_SUBSCRIPTION,
            st.one_of(st.sampled_from([m.field for m in catalog.CATALOG]), texts),
        ),
        (ingress.ATTR_TEST, st.sampled_from(["true", "false", "TRUE"])),
        (ingress.ATTR_SOURCE, st.sampled_from([*ingress.SOURCES, "x"])),
    ):
        presence = draw(st.integers(0, 9))
        if presence < 8 and not (name in (ingress.ATTR_TEST, ingress.ATTR_SOURCE) and presence):
            attrs[name] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        attrs.update(draw(st.dictionaries(texts, st.one_of(texts, long_values), max_size=4)))
    if draw(st.integers(0, 29)) == 0:  # more attributes than Pub/Sub allows
        attrs.update({f"extra{i}": "x" for i in range(records.MAX_ATTRIBUTES + 1)})
    return attrs


@st.composite
def messages(
    draw: st.DrawFn, data: st.SearchStrategy[bytes] = frames_data
) -> tuple[bytes, dict[str, str]]:
    """One hostile ingress message ``(data, attributes)``."""
    if draw(st.integers(0, 2)) == 0:
        frame, subscription = draw(catalog_frames())
        attrs = draw(attributes())
        if subscription is not None:
            attrs[ingress.ATTR_SUBSCRIPTION] = subscription
        return frame, attrs
    return draw(data), draw(attributes())


# --- checks ------------------------------------------------------------------------------------


def _row_problems(table: str, row: dict[str, Any], what: str) -> list[str]:
    problems = [
        f"{what}: {loc} {msg}" for loc, msg in row_problems(row, catalog.table_schema(table))
    ]
    if table_for_row(row) != table:
        problems.append(f"{what}: routed to {table_for_row(row)}, not {table}")
    size = len(records.dumps(row).encode())
    if size >= MAX_ROW_BYTES:
        problems.append(f"{what}: {size} bytes, BigQuery's limit is {MAX_ROW_BYTES}")
    return problems


def message_problems(message: tuple[str, bytes, dict[str, str]], what: str) -> list[str]:
    """Why Pub/Sub would refuse ``(topic, data, attributes)`` (empty: it fits)."""
    _, data, attrs = message
    problems = []
    size = len(data) + sum(len(k.encode()) + len(v.encode()) for k, v in attrs.items())
    if size > records.PUBSUB_MAX_MESSAGE_BYTES:
        problems.append(f"{what}: {size} bytes > {records.PUBSUB_MAX_MESSAGE_BYTES}")
    if len(attrs) > records.MAX_ATTRIBUTES:
        problems.append(f"{what}: {len(attrs)} attributes")
    for key, value in attrs.items():
        if not isinstance(value, str) or len(value.encode()) > records.MAX_ATTRIBUTE_VALUE_BYTES:
            problems.append(f"{what}: attribute {key!r} is {len(str(value).encode())} bytes")
        if len(key.encode()) > records.MAX_ATTRIBUTE_KEY_BYTES:
            problems.append(f"{what}: attribute key {key[:20]!r}... too long")
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problems.append(f"{what}: data is not JSON: {exc}")
    return problems


def outcome_problems(frame: Frame) -> list[str]:
    """Every way this outcome breaks the rules: a known outcome, rows BigQuery accepts, messages
    Pub/Sub accepts, and a frame Beam's coder can carry."""
    problems = _row_problems(catalog.RAW_TABLE, records.raw_row(frame), "raw row")
    letter = frame.dead_letter
    if letter is not None:
        if letter.stage not in KNOWN_STAGES:
            problems.append(f"dead letter stage {letter.stage!r}: {letter.reason}")
        if frame.events:
            problems.append("a dead letter with typed events")
        row = records.frame_dead_letter_row(frame)
        problems += _row_problems(catalog.DEAD_LETTER_TABLE, row, "dead-letter row")
        problems += message_problems(records.dead_letter_message(row), "dead-letter message")
    elif frame.events:
        for event in frame.events:
            spec = catalog.by_name(event.message_type)
            if spec is None or spec.table is None:
                problems.append(f"typed event of non-typed type {event.message_type!r}")
                continue
            problems += _row_problems(spec.table, records.typed_row(frame, event), "typed row")
            problems += message_problems(records.typed_message(frame, event), "typed message")
    else:
        spec = catalog.by_name(frame.message_type or "")
        raw_only_types = (TEST_MESSAGE_TYPE, *PAGE_MESSAGE_TYPES.values())  # + an empty page
        if frame.message_type not in raw_only_types and (spec is None or spec.table is not None):
            problems.append(f"raw-only frame of type {frame.message_type!r}")
    for record in frame.reference:
        table = catalog.REFERENCE_TABLES[record.kind]
        problems += _row_problems(table, records.reference_row(frame, record), "reference row")
        problems += message_problems(records.reference_message(frame, record), "reference msg")
    try:
        pickle.loads(pickle.dumps(frame))
    except (RecursionError, pickle.PicklingError, TypeError) as exc:
        problems.append(f"frame cannot be pickled (Beam's coder): {exc!r}")
    return problems


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy``, the same ones every run (for the end-to-end corpus)."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out
