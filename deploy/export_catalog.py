"""Write the Terraform inputs that come from ``contract.catalog``.

``terraform/generated/catalog.json`` lists the topic, subscription, dataset and table names
(with partitioning and clustering); ``terraform/generated/schemas/<table>.json`` holds each
table's BigQuery schema in the API's JSON form, which ``google_bigquery_table.schema`` takes as
is.  Terraform reads them with ``file()``, so a change to the catalog reaches the cloud only
through ``make tf-catalog`` and a reviewed diff; ``tests/terraform`` regenerates everything in
memory and fails if the committed files differ.

Run: ``python -m deploy.export_catalog`` (or ``make tf-catalog``) from the repository root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contract import catalog

__all__ = ["GENERATED_DIR", "render", "write"]

GENERATED_DIR = Path(__file__).resolve().parent.parent / "terraform" / "generated"


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=False) + "\n"


def catalog_document() -> dict[str, Any]:
    """The names Terraform needs, in a stable order (the catalog's own)."""
    return {
        "_generated_by": "python -m deploy.export_catalog (do not edit by hand)",
        "dataset": catalog.DATASET,
        "ingress_topic": catalog.INGRESS_TOPIC,
        "ingress_subscription": catalog.INGRESS_SUBSCRIPTION,
        "dead_letter_topic": catalog.DEAD_LETTER_TOPIC,
        "reference_topic": catalog.REFERENCE_TOPIC,
        "dead_letter_table": catalog.DEAD_LETTER_TABLE,
        "raw_table": catalog.RAW_TABLE,
        "typed_topics": {
            t.name: {"stream": t.stream, "description": t.description} for t in catalog.TOPICS
        },
        "tables": {
            name: {
                "description": spec.description,
                "partition_field": spec.partition_field,
                "clustering": list(spec.clustering),
                "schema_file": f"schemas/{name}.json",
            }
            for name, spec in catalog.TABLES.items()
        },
    }


def render() -> dict[str, str]:
    """Every generated file: path relative to ``terraform/generated`` → exact text."""
    files = {"catalog.json": _dump(catalog_document())}
    for name, spec in catalog.TABLES.items():
        files[f"schemas/{name}.json"] = _dump(spec.schema)
    return files


def write(target: Path = GENERATED_DIR) -> list[Path]:
    """Write the files and remove schemas of tables the catalog no longer has."""
    files = render()
    (target / "schemas").mkdir(parents=True, exist_ok=True)
    for stale in (target / "schemas").glob("*.json"):
        if f"schemas/{stale.name}" not in files:
            stale.unlink()
    written = []
    for rel, text in files.items():
        path = target / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> int:
    for path in write():
        print(path.relative_to(GENERATED_DIR.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
