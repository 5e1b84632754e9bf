"""Start bqemulator offline: run with ``.bqvenv/bin/python devstack/bqemulator_launcher.py``.

bqemulator 1.4.0 refuses to start unless it can ``INSTALL spatial`` (and tries ``INSTALL avro``)
from DuckDB's extension repository on the internet.  Offline that start-up step is fatal, and
the project never uses GEOGRAPHY or Avro, so this launcher

* replaces the step with a local-only ``LOAD spatial`` that merely logs when the extension is
  absent (GEOGRAPHY is then unsupported), turns the Avro step off and forbids DuckDB from
  auto-installing extensions over the network;
* makes ``insertAll`` report bad rows the way real BigQuery does (see
  ``devstack/insert_validation.py``) instead of HTTP 500 for the whole request;
* stops copying the whole table into a time-travel snapshot after every write (bqemulator
  does ``CREATE TABLE snapshot AS SELECT * FROM table`` per ``insertAll``: inserts get slower
  as the table grows and the data directory balloons); ``FOR SYSTEM_TIME AS OF`` is then
  unsupported locally;
* returns a view's ``view.query`` in ``tables.get`` (bqemulator stores it but leaves it out),
  so ``python -m pipeline.tables`` can tell whether a view is up to date;
then hands over to bqemulator's own ``start`` command with the remaining arguments.

Each patch replaces a bqemulator internal, so each is guarded: the installed bqemulator must be
:data:`BQEMULATOR_VERSION` (``devstack/bqemulator-requirements.txt`` pins it) and every replaced
function must be where it was with the parameters it had; otherwise the launcher stops with a
:class:`PatchError` naming what moved, instead of starting an emulator that quietly behaves
differently.  ``--check`` applies every patch and exits without starting (the tests use it).

This file runs inside the emulator's own virtualenv (its grpcio/protobuf pins differ from
Beam's), so it imports nothing from the project's virtualenv; its one helper,
``insert_validation``, is a standard-library module next to it, imported as a sibling.
"""

import inspect
import json
import logging
import os
import sys
import types
from typing import Any

import insert_validation

_log = logging.getLogger("bqemulator_launcher")

BQEMULATOR_VERSION = "1.4.0"
"""The bqemulator release the patches below were written against."""


class PatchError(RuntimeError):
    """The installed bqemulator is not the one these patches were written for."""


def _check_version() -> None:
    import bqemulator

    version = getattr(bqemulator, "__version__", "unknown")
    if version != BQEMULATOR_VERSION:
        raise PatchError(
            f"devstack/bqemulator_launcher.py patches bqemulator {BQEMULATOR_VERSION} internals "
            f"but {version} is installed: re-check each patch against it, then update "
            "BQEMULATOR_VERSION (and devstack/bqemulator-requirements.txt)"
        )


def _require(owner: Any, name: str, parameters: tuple[str, ...] | None = None) -> Any:
    """``owner.name``, checked to exist and (for a function) to take exactly ``parameters``."""
    where = (
        owner.__name__
        if isinstance(owner, types.ModuleType)
        else f"{owner.__module__}.{owner.__qualname__}"
    )
    value = getattr(owner, name, None)
    if value is None:
        raise PatchError(f"bqemulator {BQEMULATOR_VERSION}: {where}.{name} no longer exists")
    if parameters is not None:
        found = tuple(inspect.signature(value).parameters)
        if found != parameters:
            raise PatchError(
                f"bqemulator: {where}.{name} takes {found}, the patch expects {parameters}"
            )
    return value


def _patch_engine() -> None:
    """Make DuckDB start-up offline-safe (see the module docstring)."""
    from bqemulator.storage import engine

    _require(engine.DuckDBEngine, "_load_spatial", ("self",))
    original_pragmas = _require(engine.DuckDBEngine, "_apply_session_pragmas", ("self",))

    def load_spatial_if_present(self: Any) -> None:
        try:
            self.connection.execute("LOAD spatial")
        except Exception as exc:  # noqa: BLE001 - absent offline: GEOGRAPHY then unsupported
            _log.warning("spatial extension not loaded (GEOGRAPHY unsupported): %s", exc)

    def pragmas_without_downloads(self: Any) -> None:
        original_pragmas(self)
        self.connection.execute("SET autoinstall_known_extensions = false")

    engine.DuckDBEngine._load_spatial = load_spatial_if_present
    engine.DuckDBEngine._apply_session_pragmas = pragmas_without_downloads


def _field_dict(field: Any) -> dict[str, Any]:
    def text(value: Any) -> str:
        return str(getattr(value, "value", value) or "")

    return {
        "name": field.name,
        "type": text(field.type),
        "mode": text(field.mode) or "NULLABLE",
        "fields": [_field_dict(f) for f in (field.fields or ())],
    }


def _conversion_problem(
    values: dict[str, Any], arrow_schema: Any, tabledata: Any
) -> tuple[str, str]:
    """(location, message) naming the first value that cannot be converted to its column."""
    for name, value in values.items():
        try:
            tabledata.bq_rows_to_arrow([{"json": {name: value}}], arrow_schema)
        except Exception:  # noqa: BLE001 - whatever it raises, this value is the culprit
            column_type = arrow_schema.field(name).type
            return name, f"Cannot convert value to {column_type} (bad value): {value!r}"
    return "", "Cannot convert row to the table's schema."


def _patch_insert_all() -> None:  # noqa: C901 - the nested handler follows BigQuery's insertAll rules
    """Route ``insertAll`` through BigQuery-like per-row validation first."""
    from bqemulator.api.routes import tabledata
    from fastapi import Request
    from fastapi.routing import APIRoute

    original = _require(
        tabledata, "insert_all", ("project_id", "dataset_id", "table_id", "request", "ctx")
    )
    _require(tabledata, "bq_rows_to_arrow", ("rows", "schema"))
    _require(tabledata, "_build_arrow_schema", ("fields_raw",))
    _require(tabledata, "_fields_raw_from_schema", ("fields",))
    _require(tabledata, "_Ctx")
    _require(tabledata, "router")

    def conversion_errors(
        rows: list[Any], candidates: list[int], arrow_schema: Any
    ) -> dict[int, dict[str, Any]]:
        found = {}
        for index in candidates:
            try:
                tabledata.bq_rows_to_arrow([rows[index]], arrow_schema)
            except Exception:  # noqa: BLE001 - any conversion failure is this row's
                problem = _conversion_problem(rows[index]["json"], arrow_schema, tabledata)
                found[index] = insert_validation.insert_error(index, [problem])
        return found

    async def insert_all(
        project_id: str, dataset_id: str, table_id: str, request: Request, ctx: Any
    ) -> dict[str, Any]:
        args = (project_id, dataset_id, table_id, request, ctx)
        table_meta = ctx.catalog.get_table(project_id, dataset_id, table_id)
        if table_meta is None:
            return await original(*args)
        body = await request.json()
        rows = body.get("rows") or []
        fields = [_field_dict(f) for f in table_meta.schema_.fields]
        ignore_unknown = bool(body.get("ignoreUnknownValues", False))
        errors: dict[int, dict[str, Any]] = {}
        for index, row in enumerate(rows):
            problems = insert_validation.row_problems(
                row.get("json") if isinstance(row, dict) else None,
                fields,
                ignore_unknown=ignore_unknown,
            )
            if problems:
                errors[index] = insert_validation.insert_error(index, problems)
        while True:
            if errors and not body.get("skipInvalidRows", False):
                return {
                    "kind": "bigquery#tableDataInsertAllResponse",
                    "insertErrors": [
                        errors.get(i) or insert_validation.stopped_error(i)
                        for i in range(len(rows))
                    ],
                }
            good = [i for i in range(len(rows)) if i not in errors]
            # Never let bqemulator partition rows itself (its errors name the wrong column).
            request._json = {**body, "skipInvalidRows": False, "rows": [rows[i] for i in good]}
            try:
                # bqemulator converts the whole batch before inserting anything, so a
                # conversion failure leaves the table untouched: find the culprits, retry.
                result = await original(*args) if good else {"insertErrors": []}
            except Exception:
                arrow_schema = tabledata._build_arrow_schema(
                    tabledata._fields_raw_from_schema(table_meta.schema_.fields)
                )
                # bqemulator's conversion may have altered the row dicts: re-read the request.
                pristine = json.loads(await request.body()).get("rows") or []
                culprits = conversion_errors(pristine, good, arrow_schema)
                if not culprits:
                    raise
                errors.update(culprits)
                continue
            for err in result.get("insertErrors") or []:
                original_index = good[err["index"]]
                errors[original_index] = {**err, "index": original_index}
            return {
                "kind": "bigquery#tableDataInsertAllResponse",
                "insertErrors": [errors[i] for i in sorted(errors)],
            }

    insert_all.__annotations__ = {
        "project_id": str,
        "dataset_id": str,
        "table_id": str,
        "request": Request,
        "ctx": tabledata._Ctx,
        "return": dict[str, Any],
    }
    routes = [
        r for r in tabledata.router.routes if isinstance(r, APIRoute) and r.endpoint is original
    ]
    if len(routes) != 1:
        raise PatchError(f"bqemulator: expected one insertAll route, found {len(routes)}")
    for route in routes:
        tabledata.router.routes.remove(route)
        tabledata.router.add_api_route(
            route.path.removeprefix(tabledata.router.prefix),
            insert_all,
            methods=list(route.methods),
        )


def _patch_snapshots() -> None:
    """Publish the change event of a write but skip the full-table snapshot copy."""
    from bqemulator.versioning import snapshots

    _require(
        snapshots.SnapshotManager,
        "record_change",
        ("self", "project_id", "dataset_id", "table_id"),
    )
    _require(snapshots, "TableDataChanged", ("project_id", "dataset_id", "table_id"))

    def record_change_without_snapshot(
        self: Any, project_id: str, dataset_id: str, table_id: str
    ) -> None:
        self._events.publish(snapshots.TableDataChanged(project_id, dataset_id, table_id))

    snapshots.SnapshotManager.record_change = record_change_without_snapshot


def _patch_view_resource() -> None:
    """Include ``view: {query, useLegacySql}`` in table resources of views."""
    from bqemulator.api.routes import tables

    original = _require(tables, "_table_to_rest", ("t",))

    def table_to_rest(t: Any) -> dict[str, Any]:
        body = original(t)
        if getattr(t, "view_query", None):
            body["view"] = {"query": t.view_query, "useLegacySql": False}
        return body

    tables._table_to_rest = table_to_rest


def apply_patches() -> None:
    """Every patch above, after the version check; raises :class:`PatchError` on any miss."""
    _check_version()
    _patch_engine()
    _patch_insert_all()
    _patch_view_resource()
    _patch_snapshots()


def main(argv: list[str]) -> int:
    """``argv`` are bqemulator ``start`` options, e.g. ``--rest-port 9050 --data-dir D``;
    ``--check`` alone applies the patches and exits (0 when every patch applies)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ["BQEMU_ENABLE_FORMAT_EXTENSIONS"] = "false"
    try:
        apply_patches()
    except PatchError as exc:
        print(f"bqemulator_launcher: {exc}", file=sys.stderr)
        return 3
    if argv == ["--check"]:
        print(f"bqemulator {BQEMULATOR_VERSION}: every launcher patch applies")
        return 0
    from bqemulator.cli import main as bqemulator_main

    bqemulator_main(["start", *argv], prog_name="bqemulator")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
