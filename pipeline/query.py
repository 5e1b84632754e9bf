"""Run analyst SQL and print the rows: ``python -m pipeline.query "<SQL>" | <query name> | <file.sql>``.

The same SQL runs on real BigQuery and on the local emulator (``BIGQUERY_EMULATOR_HOST`` picks
the emulator, see :func:`pipeline.tables.make_client`).  ``${project}`` and ``${dataset}`` are
filled in, so the example queries in ``pipeline/sql/queries/`` run as they are:

    python -m pipeline.query pool_totals_now
    python -m pipeline.query "SELECT COUNT(*) AS n FROM \\`\\${project}.\\${dataset}.raw_frames\\`"
"""

from __future__ import annotations

import argparse
import os
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contract import catalog
from pipeline.tables import SQL_DIR, make_client, render_sql

__all__ = ["QUERIES_DIR", "format_rows", "main", "query_names", "resolve_sql"]

QUERIES_DIR = SQL_DIR / "queries"


def query_names(queries_dir: Path = QUERIES_DIR) -> list[str]:
    """The example queries shipped in ``pipeline/sql/queries`` (file names without ``.sql``)."""
    return sorted(p.stem for p in queries_dir.glob("*.sql"))


def resolve_sql(text: str, project: str, dataset: str, queries_dir: Path = QUERIES_DIR) -> str:
    """``text`` as SQL: an example query's name, a ``.sql`` file, or SQL itself, rendered.

    Files must use only ``${project}``/``${dataset}``; in ad-hoc SQL other ``$`` text is kept.
    """
    named = queries_dir / f"{text}.sql"
    if named.is_file():
        return render_sql(named.read_text(), project, dataset)
    if text.endswith(".sql") and Path(text).is_file():
        return render_sql(Path(text).read_text(), project, dataset)
    return string.Template(text).safe_substitute(project=project, dataset=dataset)


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: a header, a rule, one line per row (NULL for None)."""
    cells = [["NULL" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
        "  ".join("-" * w for w in widths),
        *("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells),
    ]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.query", description=__doc__)
    parser.add_argument("sql", help="SQL text, an example query name, or a .sql file")
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"))
    parser.add_argument("--dataset", default=catalog.DATASET)
    parser.add_argument("--max-rows", type=int, default=100)
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project is required (or set GOOGLE_CLOUD_PROJECT)")
    sql = resolve_sql(args.sql, args.project, args.dataset)
    result = make_client(args.project).query(sql).result(max_results=args.max_rows)
    columns = [f.name for f in result.schema]
    rows = [tuple(row.values()) for row in result]
    print(format_rows(columns, rows))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
