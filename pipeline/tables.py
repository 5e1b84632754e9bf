"""Create the BigQuery dataset, tables and analyst views from the catalog: ``python -m pipeline.tables``.

The pipeline streams with ``CREATE_NEVER``, so tables must exist first.  In the cloud
Terraform owns them; this module does the same job for the local emulator, for tests and for a
project without Terraform, with the same code against both (``BIGQUERY_EMULATOR_HOST`` selects
the emulator, otherwise Application Default Credentials and real BigQuery).

Idempotent: an existing table is compared with the catalog; columns the catalog added are
appended when BigQuery allows it (NULLABLE or REPEATED, also inside records), anything else
that differs (type, mode, a missing REQUIRED column) is reported, never "fixed" destructively.
Views come from ``pipeline/sql/views/<view>.sql`` (``${project}``/``${dataset}``
placeholders, the syntax Terraform's ``templatefile`` shares with ``string.Template``).  Those
read tables only; the views in ``views/derived/`` may also read them (one definition of "the
latest version of a race", not a copy per view), so they are created second, here and in
Terraform (``google_bigquery_table.derived_view`` depends on ``google_bigquery_table.view``).

Everything but the ``ensure_*`` functions and :func:`make_client` is plain data in, data out.
"""

from __future__ import annotations

import argparse
import logging
import os
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract import catalog

if TYPE_CHECKING:
    from google.cloud import bigquery

__all__ = [
    "DEFAULT_LOCATION",
    "DERIVED_VIEWS_DIR",
    "VIEWS_DIR",
    "SchemaDiff",
    "TableReport",
    "diff_schema",
    "ensure_all",
    "ensure_dataset",
    "ensure_tables",
    "ensure_views",
    "local_client",
    "main",
    "make_client",
    "merge_schema",
    "render_sql",
    "table_resource",
    "view_references",
    "view_sql",
]

_log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent / "sql"
VIEWS_DIR = SQL_DIR / "views"
DERIVED_VIEWS_DIR = VIEWS_DIR / "derived"
"""Views that read other views as well as tables: created after every view in ``VIEWS_DIR``."""
DEFAULT_LOCATION = "europe-west2"
"""Same default as Terraform's ``bigquery_location``."""

_ADDABLE_MODES = ("NULLABLE", "REPEATED")


# --- plain functions -----------------------------------------------------------------------------


def render_sql(template: str, project: str, dataset: str) -> str:
    """Fill ``${project}`` and ``${dataset}``; any other placeholder is an error (KeyError)."""
    return string.Template(template).substitute(project=project, dataset=dataset)


def view_sql(project: str, dataset: str, views_dir: Path = VIEWS_DIR) -> dict[str, str]:
    """Every view's rendered SQL, by view name (the file name without ``.sql``), in the order
    they must be created: the views over tables (sorted), then ``derived/`` (sorted).

    Raises ``ValueError`` when a name is used in both places (Terraform would create it twice).
    """
    views: dict[str, str] = {}
    for path in [*sorted(views_dir.glob("*.sql")), *sorted((views_dir / "derived").glob("*.sql"))]:
        if path.stem in views:
            raise ValueError(f"view {path.stem!r} is defined twice (in {views_dir} and derived/)")
        views[path.stem] = render_sql(path.read_text(), project, dataset)
    return views


def view_references(sql: str, project: str, dataset: str) -> set[str]:
    """The tables and views of ``project.dataset`` a rendered query reads (backquoted names)."""
    prefix = f"`{project}.{dataset}."
    found = set()
    start = sql.find(prefix)
    while start != -1:
        end = sql.find("`", start + len(prefix))
        found.add(sql[start + len(prefix) : end])
        start = sql.find(prefix, end + 1)
    return found


def table_resource(spec: catalog.TableSpec, project: str, dataset: str) -> dict[str, Any]:
    """The BigQuery API ``Table`` resource for ``spec``: schema, DAY partitioning, clustering."""
    resource: dict[str, Any] = {
        "tableReference": {"projectId": project, "datasetId": dataset, "tableId": spec.name},
        "description": spec.description,
        "schema": {"fields": spec.schema},
        "timePartitioning": {"type": "DAY", "field": spec.partition_field},
    }
    if spec.clustering:
        resource["clustering"] = {"fields": list(spec.clustering)}
    return resource


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """How a live table's schema differs from the catalog's, by dotted column path."""

    addable: tuple[str, ...] = ()
    """Catalog columns the table lacks that BigQuery lets us add (NULLABLE / REPEATED)."""
    incompatible: tuple[str, ...] = ()
    """Differences that need a human: changed type or mode, a missing REQUIRED column."""
    unknown: tuple[str, ...] = ()
    """Columns the table has and the catalog does not (harmless: reported only)."""

    @property
    def matches(self) -> bool:
        return not (self.addable or self.incompatible or self.unknown)


def _mode(f: Mapping[str, Any]) -> str:
    return (f.get("mode") or "NULLABLE").upper()


def _type(f: Mapping[str, Any]) -> str:
    t = (f.get("type") or "").upper()
    return {"STRUCT": "RECORD", "INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOLEAN": "BOOL"}.get(t, t)


def diff_schema(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]], prefix: str = ""
) -> SchemaDiff:
    """Compare API schemas (lists of field dicts); names compare case-insensitively."""
    addable: list[str] = []
    incompatible: list[str] = []
    unknown: list[str] = []
    have = {f["name"].lower(): f for f in actual}
    want = {f["name"].lower() for f in expected}
    for exp in expected:
        path = prefix + exp["name"]
        act = have.get(exp["name"].lower())
        if act is None:
            if _mode(exp) in _ADDABLE_MODES:
                addable.append(path)
            else:
                incompatible.append(f"{path}: missing {_mode(exp)} column")
            continue
        if _type(exp) != _type(act) or _mode(exp) != _mode(act):
            incompatible.append(
                f"{path}: catalog {_type(exp)} {_mode(exp)}, table {_type(act)} {_mode(act)}"
            )
            continue
        if _type(exp) == "RECORD":
            inner = diff_schema(exp.get("fields") or (), act.get("fields") or (), f"{path}.")
            addable += inner.addable
            incompatible += inner.incompatible
            unknown += inner.unknown
    unknown += [prefix + f["name"] for f in actual if f["name"].lower() not in want]
    return SchemaDiff(tuple(addable), tuple(incompatible), tuple(unknown))


def merge_schema(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``actual`` with the addable catalog columns appended (at every record level).

    Existing columns keep their order and definition (BigQuery only allows appending), so
    the result is what a ``tables.patch`` may send.
    """
    wanted = {f["name"].lower(): f for f in expected}
    merged: list[dict[str, Any]] = []
    for act in actual:
        out = dict(act)
        exp = wanted.get(act["name"].lower())
        if exp is not None and _type(exp) == _type(act) == "RECORD" and _mode(exp) == _mode(act):
            out["fields"] = merge_schema(exp.get("fields") or (), act.get("fields") or ())
        merged.append(out)
    have = {f["name"].lower() for f in actual}
    merged += [
        dict(exp)
        for exp in expected
        if exp["name"].lower() not in have and _mode(exp) in _ADDABLE_MODES
    ]
    return merged


# --- the BigQuery client shell -------------------------------------------------------------------


@dataclass(slots=True)
class TableReport:
    """What :func:`ensure_tables` did to one table."""

    table: str
    action: str  # created | unchanged | columns-added | differs
    details: list[str] = field(default_factory=list)


def make_client(project: str) -> bigquery.Client:
    """The emulator when ``BIGQUERY_EMULATOR_HOST`` is set (no credentials), else real BigQuery.

    Accepts the variable with or without ``http://`` (google-cloud-bigquery itself needs it).
    """
    from google.cloud import bigquery

    host = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if not host:
        return bigquery.Client(project=project)
    return _emulator_client(host, project)


def local_client(emulator: Any, project: str) -> bigquery.Client:
    """A client for a running local emulator (anything with ``.host``), without credentials."""
    return _emulator_client(emulator.host, project)


def _emulator_client(host: str, project: str) -> bigquery.Client:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    endpoint = host if "://" in host else f"http://{host}"
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=endpoint),
    )


def ensure_dataset(
    client: bigquery.Client, project: str, dataset: str, location: str = DEFAULT_LOCATION
) -> None:
    """Create the dataset unless it exists (an existing dataset is left as it is)."""
    from google.cloud import bigquery

    ds = bigquery.Dataset(f"{project}.{dataset}")
    ds.location = location
    ds.description = "tote-realtime: Tote pool-betting messages, raw and typed, with dead letters."
    client.create_dataset(ds, exists_ok=True)


def ensure_tables(
    client: bigquery.Client,
    project: str,
    dataset: str,
    specs: Mapping[str, catalog.TableSpec] = catalog.TABLES,
) -> list[TableReport]:
    """Create every catalog table that is missing; add new columns; report other differences."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    reports = []
    for name, spec in specs.items():
        table_id = f"{project}.{dataset}.{name}"
        try:
            live = client.get_table(table_id)
        except NotFound:
            client.create_table(
                bigquery.Table.from_api_repr(table_resource(spec, project, dataset))
            )
            reports.append(TableReport(name, "created"))
            continue
        actual = [f.to_api_repr() for f in live.schema]
        diff = diff_schema(spec.schema, actual)
        details = [*diff.incompatible, *(f"not in catalog: {c}" for c in diff.unknown)]
        if diff.addable:
            live.schema = [
                bigquery.SchemaField.from_api_repr(f) for f in merge_schema(spec.schema, actual)
            ]
            client.update_table(live, ["schema"])
            details = [*(f"added: {c}" for c in diff.addable), *details]
        action = (
            "differs" if diff.incompatible else "columns-added" if diff.addable else "unchanged"
        )
        reports.append(TableReport(name, action, details))
    return reports


def ensure_views(
    client: bigquery.Client, project: str, dataset: str, views_dir: Path = VIEWS_DIR
) -> dict[str, str]:
    """Create each view, or update its query when the file changed; returns name -> action."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    actions = {}
    for name, sql in view_sql(project, dataset, views_dir).items():
        view_id = f"{project}.{dataset}.{name}"
        try:
            live = client.get_table(view_id)
        except NotFound:
            view = bigquery.Table(view_id)
            view.view_query = sql
            view.view_use_legacy_sql = False
            client.create_table(view)
            actions[name] = "created"
            continue
        if (live.view_query or "").strip() == sql.strip():
            actions[name] = "unchanged"
            continue
        live.view_query = sql
        client.update_table(live, ["view_query"])
        actions[name] = "updated"
    return actions


def ensure_all(
    client: bigquery.Client,
    project: str,
    dataset: str = catalog.DATASET,
    location: str = DEFAULT_LOCATION,
) -> list[TableReport]:
    """Dataset, tables, then views (views are validated against the tables)."""
    ensure_dataset(client, project, dataset, location)
    reports = ensure_tables(client, project, dataset)
    for name, action in ensure_views(client, project, dataset).items():
        reports.append(TableReport(name, f"view-{action}"))
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    """CLI; exit status 1 when a table differs from the catalog in a way it cannot fix."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.tables", description=__doc__)
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"))
    parser.add_argument("--dataset", default=catalog.DATASET)
    parser.add_argument("--location", default=DEFAULT_LOCATION)
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project is required (or set GOOGLE_CLOUD_PROJECT)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    target = os.environ.get("BIGQUERY_EMULATOR_HOST") or "BigQuery"
    print(f"{args.project}.{args.dataset} on {target}:")
    reports = ensure_all(make_client(args.project), args.project, args.dataset, args.location)
    for report in reports:
        print(f"  {report.table:<28} {report.action}")
        for detail in report.details:
            print(f"      {detail}")
    return 1 if any(r.action == "differs" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
