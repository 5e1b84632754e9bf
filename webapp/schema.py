"""The web client's published contract: JSON Schemas (draft 2020-12) and TypeScript types.

Generated from the message catalog (``contract/catalog.py``), so a new column or stream shows up
in the contract without editing it by hand::

    python -m webapp.schema            # writes docs/schema/*.json and docs/schema/events.d.ts
    python -m webapp.schema --check    # exit 1 if the committed files are out of date

One schema per SSE event name (the ``data`` of ``event: pool-total`` and so on), one for the
``replay-gap`` notice and one for ``GET /state``.  ``CONTRACT_VERSION`` follows semantic
versioning: a field added is a minor version, a field removed or changed a major one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contract import catalog

__all__ = ["CONTRACT_VERSION", "render", "schemas", "typescript"]

CONTRACT_VERSION = "1.0.0"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE = "urn:tote-realtime:webapp:1"
OUT = Path(__file__).resolve().parent.parent / "docs" / "schema"

_TIMESTAMP = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC."}
_DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "Exact decimal."}
EVENT_ID = {
    "type": "string",
    "pattern": r"^\d{13}-[0-9a-z]{1,32}-[0-9a-f]{8}$",
    "description": "<received_at ms>-<frame>-<entity hash>: the same on every instance; "
    "ids are ordered by (ms, frame, entity).",
}

CONTEXT = {
    "type": "object",
    "description": "Names and joins from the reference data known when the event was released "
    "(absent when none is known).",
    "properties": {
        "event_id": {"type": "string", "description": "The race (a pool's first leg)."},
        "event_ids": {"type": "array", "items": {"type": "string"}},
        "venue": {"type": "string"},
        "country": {"type": "string"},
        "scheduled_start": _TIMESTAMP,
        "event_name": {"type": "string"},
        "product_name": {"type": "string"},
        "bet_type": {"type": "string", "examples": ["WIN", "PLACE", "EXACTA"]},
        "currency": {"type": "string"},
        "selection_name": {"type": "string"},
        "competitor_name": {"type": "string"},
        "label": {
            "type": "string",
            "description": "Venue, Europe/London start time, bet type.",
            "examples": ["Newcastle 14:30 · WIN"],
        },
    },
    "additionalProperties": True,
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    kinds = kind if isinstance(kind, list) else [kind]
    return {**schema, "type": [*kinds, "null"]}


def _column(column: catalog.Column) -> dict[str, Any]:
    if column.bq_type == "RECORD":
        item: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: _column(f) for f in column.fields},
            "additionalProperties": True,
        }
        out: dict[str, Any] = item
    elif column.bq_type == "NUMERIC":
        out = dict(_DECIMAL)
    elif column.bq_type == "BOOL":
        out = {"type": "boolean"}
    elif column.bq_type == "INTEGER":
        out = {"type": "integer"}
    elif column.bq_type == "TIMESTAMP":
        out = dict(_TIMESTAMP)
    else:
        out = {"type": "string"}
    if column.description:
        out = {**out, "description": column.description}
    if column.mode == "REPEATED":
        return {"type": "array", "items": out}
    return out if column.required else _nullable(out)


_EXAMPLE_IDS = {
    "product_id": "3f1c6a9e-0b4d-4c1e-9a57-2d6f4f1b7c10",
    "event_id": "HORSERACING-NEWCASTLE-GB-2026-11-26-1430",
    "selection_id": "b7e1c3d5-2222-4333-8444-a55566667777",
    "leg_id": "a2b4c6d8-1111-4222-8333-944455556666",
    "competitor_id": "HORSERACING-NEWCASTLE-GB-2026-11-26-1430-SEA-THE-STARS",
    "bet_id": "0f3a5c7e9b1d2f4a6c8e0a2b4d6f8a1c",
}
_EXAMPLE_TIME = "2026-11-26T14:03:07.123Z"
EXAMPLE_ID = "1795701787123-9f86d081884c7d659a2feaa0c55ad015-cf2b73fe"
EXAMPLE_CONTEXT = {
    "event_id": _EXAMPLE_IDS["event_id"],
    "event_ids": [_EXAMPLE_IDS["event_id"]],
    "venue": "Newcastle",
    "country": "GB",
    "scheduled_start": "2026-11-26T14:30:00Z",
    "event_name": "Novice Stakes",
    "bet_type": "WIN",
    "currency": "GBP",
    "label": "Newcastle 14:30 · WIN",
}


_RECORD_EXAMPLES: dict[str, dict[str, Any]] = {
    "dividends": {"name": "Base", "type": "POOL", "status": "PROVISIONAL"},
    "competitor_results": {"status": "FINISHED"},
}


def _example(column: catalog.Column) -> Any:
    """A plausible value of ``column`` (the schemas' examples; the tests validate them)."""
    if column.mode == "REPEATED":
        if column.bq_type == "RECORD":
            fixed = _RECORD_EXAMPLES.get(column.name, {})
            return [{f.name: fixed.get(f.name, _example(f)) for f in column.fields}]
        return [_EXAMPLE_IDS.get(column.name.removesuffix("s"), "x")]
    if column.name in _EXAMPLE_IDS:
        return _EXAMPLE_IDS[column.name]
    by_type: dict[str, Any] = {
        "NUMERIC": "1234.50",
        "BOOL": False,
        "INTEGER": 3,
        "TIMESTAMP": _EXAMPLE_TIME,
    }
    if column.bq_type in by_type:
        return by_type[column.bq_type]
    if column.kind is catalog.Kind.ENUM or column.name.endswith("status"):
        return "OPEN"
    return {"currency": "GBP", "finishing_position": "1", "name": "Sea The Stars"}.get(
        column.name, "Example"
    )


def _typed_example(spec: catalog.MessageType) -> dict[str, Any]:
    data = {c.name: _example(c) for c in spec.columns}
    return {
        "message_type": spec.name,
        "frame_id": "9f86d081884c7d659a2feaa0c55ad015",
        "received_at": _EXAMPLE_TIME,
        "source": "subscription",
        "as_of": _EXAMPLE_TIME,
        "key": "|".join([spec.name, *(str(data[k]) for k in spec.key_columns)]),
        "data": data,
        "payload": {"note": "the Tote message exactly as received"},
        "context": EXAMPLE_CONTEXT,
    }


def _typed_event(stream: str, types: tuple[catalog.MessageType, ...]) -> dict[str, Any]:
    variants = []
    for spec in types:
        variants.append(
            {
                "title": spec.name,
                "description": spec.description,
                "properties": {
                    "message_type": {"const": spec.name},
                    "data": {
                        "type": "object",
                        "properties": {c.name: _column(c) for c in spec.columns},
                        "required": [c.name for c in spec.required_columns],
                        "additionalProperties": True,
                    },
                },
            }
        )
    topic = next(t for t in catalog.TOPICS if t.stream == stream)
    return {
        "$schema": DRAFT,
        "$id": f"{BASE}:{stream}",
        "title": f"SSE event '{stream}'",
        "description": f"{topic.description} The data of `event: {stream}` on /events, and of "
        f"/state items with stream '{stream}'.",
        "x-contract-version": CONTRACT_VERSION,
        "type": "object",
        "properties": {
            "message_type": {"type": "string"},
            "frame_id": {"type": "string"},
            "received_at": _TIMESTAMP,
            "key": {"type": "string", "description": "Message type and entity ids."},
            "data": {"type": "object"},
            "payload": {"type": "object", "description": "The Tote message as received."},
            "source": {"enum": ["subscription", "query"]},
            "as_of": _TIMESTAMP,
            "context": CONTEXT,
        },
        "required": ["message_type", "frame_id", "received_at", "data"],
        "additionalProperties": True,
        "oneOf": variants,
        "examples": [_typed_example(spec) for spec in types],
    }


def reference_values() -> dict[str, dict[str, Any]]:
    """Each reference kind's ``values`` properties, from ``catalog.REFERENCE_COLUMNS``."""
    return {
        kind: {c.name: _column(c) for c in catalog.REFERENCE_COLUMNS[kind]}
        for kind in catalog.REFERENCE_KINDS
    }


def _reference_event() -> dict[str, Any]:
    variants = [
        {
            "title": kind,
            "properties": {
                "kind": {"const": kind},
                "values": {"type": "object", "properties": values, "additionalProperties": True},
            },
        }
        for kind, values in reference_values().items()
    ]
    return {
        "$schema": DRAFT,
        "$id": f"{BASE}:reference",
        "title": "SSE event 'reference'",
        "description": "A reference entity (race, pool, selection, runner) with its names, as "
        "the pipeline learnt it from Tote's query API; the newest as_of wins.",
        "x-contract-version": CONTRACT_VERSION,
        "type": "object",
        "properties": {
            "kind": {"enum": list(catalog.REFERENCE_KINDS)},
            "id": {"type": "string"},
            "as_of": _TIMESTAMP,
            "values": {"type": "object"},
            "context": CONTEXT,
        },
        "required": ["kind", "id", "as_of", "values"],
        "additionalProperties": True,
        "oneOf": variants,
        "examples": [
            {
                "kind": kind,
                "id": _EXAMPLE_IDS[f"{kind}_id"],
                "as_of": _EXAMPLE_TIME,
                "values": {c.name: _example(c) for c in catalog.REFERENCE_COLUMNS[kind]},
            }
            for kind in catalog.REFERENCE_KINDS
        ],
    }


def _gap_event() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": f"{BASE}:replay-gap",
        "title": "SSE event 'replay-gap'",
        "description": "Sent (without an id) before the replay when the events after the "
        "client's Last-Event-ID cannot all be replayed; the client should refetch /state.",
        "x-contract-version": CONTRACT_VERSION,
        "type": "object",
        "properties": {
            "reason": {"enum": ["expired", "unknown-id"]},
            "last_event_id": {"type": "string"},
            "missed": {"type": ["integer", "null"], "minimum": 0},
            "oldest_available": {"type": ["string", "null"]},
        },
        "required": ["reason", "last_event_id", "missed", "oldest_available"],
        "additionalProperties": False,
        "examples": [
            {
                "reason": "expired",
                "last_event_id": EXAMPLE_ID,
                "missed": None,
                "oldest_available": EXAMPLE_ID,
            }
        ],
    }


def streams() -> list[str]:
    """Every SSE event name that carries data, in catalog order, then reference."""
    return [t.stream for t in catalog.TOPICS] + ["reference"]


def _state(event_schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    defs = {
        name: {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        for name, schema in event_schemas.items()
    }
    return {
        "$schema": DRAFT,
        "$id": f"{BASE}:state",
        "title": "GET /state",
        "description": "The latest message about every entity (bets only for authorised "
        "callers), oldest first, and the id to resume /events from with no gap and no "
        "duplicate.",
        "x-contract-version": CONTRACT_VERSION,
        "type": "object",
        "properties": {
            "version": {"const": CONTRACT_VERSION},
            "instance": {"type": "string"},
            "generated_at": _TIMESTAMP,
            "last_event_id": EVENT_ID,
            "count": {"type": "integer", "minimum": 0},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": EVENT_ID,
                        "stream": {"enum": list(event_schemas)},
                    },
                    "required": ["id", "stream", "data"],
                    "oneOf": [
                        {
                            "properties": {
                                "stream": {"const": name},
                                "data": {"$ref": f"#/$defs/{name}"},
                            }
                        }
                        for name in event_schemas
                    ],
                },
            },
        },
        "required": ["version", "instance", "generated_at", "last_event_id", "count", "items"],
        "$defs": defs,
        "examples": [
            {
                "version": CONTRACT_VERSION,
                "instance": "mx304oci",
                "generated_at": "2026-11-26T14:03:08Z",
                "last_event_id": EXAMPLE_ID,
                "count": 1,
                "items": [
                    {
                        "id": EXAMPLE_ID,
                        "stream": "pool-total",
                        "data": _typed_example(catalog.by_name("PoolTotalChanged")),  # type: ignore[arg-type]  # in the catalog
                    }
                ],
            }
        ],
    }


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every SSE event and ``/state``."""
    events: dict[str, dict[str, Any]] = {}
    for topic in catalog.TOPICS:
        events[topic.stream] = _typed_event(topic.stream, catalog.by_topic(topic.name))
    events["reference"] = _reference_event()
    out = {f"{name}.json": schema for name, schema in events.items()}
    out["replay-gap.json"] = _gap_event()
    out["state.json"] = _state(events)
    return out


def _ts_name(stream: str) -> str:
    return "".join(part.capitalize() for part in stream.split("-"))


def _ts_type(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    out = []
    for k in kinds:
        if k == "array":
            out.append(f"Array<{_ts_type(schema.get('items', {}))}>")
        elif k == "object" and "properties" in schema:
            fields = "; ".join(
                f"{name}?: {_ts_type(sub)}" for name, sub in schema["properties"].items()
            )
            out.append(f"{{ {fields}; [extra: string]: unknown }}")
        elif k == "object":
            out.append("Record<string, unknown>")
        elif k == "integer":
            out.append("number")
        elif k in ("string", "number", "boolean", "null"):
            out.append(k)
        else:
            out.append("unknown")
    return " | ".join(out) or "unknown"


def typescript() -> str:
    """TypeScript declarations of every SSE event's data and of ``/state``."""
    lines = [
        "// Generated by `python -m webapp.schema` from contract/catalog.py: do not edit.",
        f"// Contract version {CONTRACT_VERSION}.",
        "",
        f'export const CONTRACT_VERSION = "{CONTRACT_VERSION}";',
        "export type EventId = string;",
        f"export type Context = {_ts_type(CONTEXT)};",
        "",
    ]
    names = []
    for topic in catalog.TOPICS:
        name = _ts_name(topic.stream) + "Event"
        names.append((topic.stream, name))
        variants = []
        for spec in catalog.by_topic(topic.name):
            data = {c.name: _column(c) for c in spec.columns}
            fields = "; ".join(
                f"{k}{'' if c.required else '?'}: {_ts_type(data[k])}"
                for k, c in zip(data, spec.columns, strict=True)
            )
            variants.append(
                f'  | {{ message_type: "{spec.name}"; frame_id: string; received_at: string; '
                f'key?: string; source?: "subscription" | "query"; as_of?: string; '
                f"data: {{ {fields} }}; payload?: Record<string, unknown>; context?: Context }}"
            )
        lines.append(f"/** {topic.description} (`event: {topic.stream}`) */")
        lines.append(f"export type {name} =")
        lines.extend(variants)
        lines[-1] += ";"
        lines.append("")
    ref_variants = [
        f'  | {{ kind: "{kind}"; id: string; as_of: string; '
        f"values: {_ts_type({'type': 'object', 'properties': values})}; context?: Context }}"
        for kind, values in reference_values().items()
    ]
    lines += ["/** Reference data: names of races, pools, selections, runners. */"]
    lines += ["export type ReferenceEvent =", *ref_variants]
    lines[-1] += ";"
    names.append(("reference", "ReferenceEvent"))
    lines += [
        "",
        'export interface ReplayGap { reason: "expired" | "unknown-id"; '
        "last_event_id: string; missed: number | null; oldest_available: string | null }",
        "",
        "/** SSE event name -> the type of its data. */",
        "export interface StreamData {",
        *(f'  "{stream}": {name};' for stream, name in names),
        '  "replay-gap": ReplayGap;',
        "}",
        "",
        "export type StateItem = {",
        *(
            "  [S in keyof StreamData]: { id: EventId; stream: S; data: StreamData[S] }".splitlines()
        ),
        '}[Exclude<keyof StreamData, "replay-gap">];',
        "",
        "/** GET /state */",
        "export interface State { version: string; instance: string; generated_at: string; "
        "last_event_id: EventId; count: number; items: StateItem[] }",
        "",
    ]
    return "\n".join(lines)


def render() -> dict[str, str]:
    """File name -> text of every generated file."""
    out = {
        name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in schemas().items()
    }
    out["events.d.ts"] = typescript()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)} (run python -m webapp.schema)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
