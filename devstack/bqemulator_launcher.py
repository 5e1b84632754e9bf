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

This file runs inside the emulator's own virtualenv (its grpcio/protobuf pins differ from
Beam's), so it imports nothing from the project's virtualenv; its one helper,
``insert_validation``, is a standard-library module next to it, imported as a sibling.
"""

import json
import logging
import os
import sys
from typing import Any

import insert_validation

_log = logging.getLogger("bqemulator_launcher")


def _patch_engine() -> None:
    """Make DuckDB start-up offline-safe (see the module docstring)."""
    from bqemulator.storage import engine

    def load_spatial_if_present(self: Any) -> None:
        try:
            self.connection.execute("LOAD spatial")
        except Exception as exc:  # absent offline: GEOGRAPHY then unsupported
            _log.warning("spatial extension not loaded (GEOGRAPHY unsupported): %s", exc)

    original_pragmas = engine.DuckDBEngine._apply_session_pragmas

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


def _conversion_problem(values: dict[str, Any], arrow_schema: Any, tabledata: Any) -> tuple:
    """(location, message) naming the first value that cannot be converted to its column."""
    for name, value in values.items():
        try:
            tabledata.bq_rows_to_arrow([{"json": {name: value}}], arrow_schema)
        except Exception:  # this is the culprit
            column_type = arrow_schema.field(name).type
            return name, f"Cannot convert value to {column_type} (bad value): {value!r}"
    return "", "Cannot convert row to the table's schema."


def _patch_insert_all() -> None:
    """Route ``insertAll`` through BigQuery-like per-row validation first."""
    from bqemulator.api.routes import tabledata
    from fastapi import Request
    from fastapi.routing import APIRoute

    original = tabledata.insert_all

    def conversion_errors(rows: list[Any], candidates: list[int], arrow_schema: Any) -> dict:
        found = {}
        for index in candidates:
            try:
                tabledata.bq_rows_to_arrow([rows[index]], arrow_schema)
            except Exception:  # any conversion failure is this row's
                problem = _conversion_problem(rows[index]["json"], arrow_schema, tabledata)
                found[index] = insert_validation.insert_error(index, [problem])
        return found

    async def insert_all(project_id, dataset_id, table_id, request, ctx):  # type: ignore[no-untyped-def]
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
    for route in list(tabledata.router.routes):
        if isinstance(route, APIRoute) and route.endpoint is original:
            tabledata.router.routes.remove(route)
            tabledata.router.add_api_route(
                route.path.removeprefix(tabledata.router.prefix),
                insert_all,
                methods=list(route.methods),
            )


def _patch_snapshots() -> None:
    """Publish the change event of a write but skip the full-table snapshot copy."""
    from bqemulator.versioning import snapshots

    def record_change_without_snapshot(
        self: Any, project_id: str, dataset_id: str, table_id: str
    ) -> None:
        self._events.publish(snapshots.TableDataChanged(project_id, dataset_id, table_id))

    snapshots.SnapshotManager.record_change = record_change_without_snapshot


def _patch_view_resource() -> None:
    """Include ``view: {query, useLegacySql}`` in table resources of views."""
    from bqemulator.api.routes import tables

    original = tables._table_to_rest

    def table_to_rest(t: Any) -> dict[str, Any]:
        body = original(t)
        if getattr(t, "view_query", None):
            body["view"] = {"query": t.view_query, "useLegacySql": False}
        return body

    tables._table_to_rest = table_to_rest


def main(argv: list[str]) -> None:
    """``argv`` are bqemulator ``start`` options, e.g. ``--rest-port 9050 --data-dir D``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ["BQEMU_ENABLE_FORMAT_EXTENSIONS"] = "false"
    _patch_engine()
    _patch_insert_all()
    _patch_view_resource()
    _patch_snapshots()
    from bqemulator.cli import main as bqemulator_main

    bqemulator_main(["start", *argv], prog_name="bqemulator")


if __name__ == "__main__":
    main(sys.argv[1:])
