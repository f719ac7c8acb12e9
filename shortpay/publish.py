"""Publish the marts of the work database as the warehouse readers open.

The public tables are written into a new DuckDB file beside the published
one, which then replaces it with one ``os.replace``. A reader that has the
old file open keeps reading it untouched (the old inode stays alive until
it closes), and the next reader opens the new file, so no reader sees a
half-built table. A run that fails before this step leaves the last good
warehouse in place.

After an incremental build the new file starts as a copy of the published
one, and the largest tables are patched: the rows of the build's scope are
deleted and inserted again. The invoice and deduction tables are compared
row by row instead, because their day counts follow the run date. A patch
is safe only when the published file contains the tables of the build
before this one, as the publication record (below) shows. Otherwise, or
when deleted rows have made the file much larger than a fresh copy, every
table is copied in full.

The record of the last publication (its build and its file) is
``publication.json`` beside the work database, not a table in it. The
follow-up step has the work database open while the warehouse is
published, and a write there would need the database to itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# Tables of the published warehouse, from the work database's marts schema.
PUBLIC_TABLES = (
    "fct_payments",
    "fct_cash_applications",
    "fct_deductions",
    "fct_invoices",
    "fct_remittance_lines",
    "fct_invoice_lines",
    "fct_deduction_lines",
    "dim_customers",
    "exceptions",
    "rpt_deductions_aging",
    "rpt_deduction_kpis",
)


def _changed_keys(table: str, column: str) -> tuple[str, str]:
    """Return queries for the keys of rows that differ between the build and the published table.

    The first lists keys of new or changed rows, the second keys that are
    gone from the build.
    """
    return (
        f"select {column} from (select * from work.marts.{table}"  # noqa: S608
        f" except select * from main.{table})",
        f"select {column} from main.{table}"  # noqa: S608
        f" except select {column} from work.marts.{table}",
    )


# Tables that an incremental build changes only for some keys, with the
# key column and the queries that list those keys.
SCOPED_TABLES = {
    "fct_invoice_lines": (
        "invoice_id", ("select invoice_id from work.intermediate.int_invoice_scope",),
    ),
    "fct_remittance_lines": (
        "payment_id", ("select payment_id from work.intermediate.int_payment_scope",),
    ),
    "fct_cash_applications": (
        "payment_id", ("select payment_id from work.intermediate.int_balance_scope",),
    ),
    "fct_payments": (
        "payment_id", ("select payment_id from work.intermediate.int_balance_scope",),
    ),
    "fct_deduction_lines": (
        "deduction_id", ("select deduction_id from work.intermediate.int_deduction_scope",),
    ),
    # The run date and review decisions change rows outside any scope, so
    # these two are compared row by row (0.2 to 0.3 s each at 1M invoices).
    "fct_invoices": ("invoice_id", _changed_keys("fct_invoices", "invoice_id")),
    "fct_deductions": ("deduction_id", _changed_keys("fct_deductions", "deduction_id")),
}

# Keys of the publication record.
PUBLICATION_KEYS = ("published_build", "published_file", "published_full_size")

# A patched file keeps the space of its deleted rows. Past this many times
# the size of the last full copy, the next publication copies in full.
MAX_GROWTH = 1.5


def publish_warehouse(work_db: Path, warehouse: Path, incremental: bool = False) -> dict:
    """Write the public tables into a fresh file and swap it in atomically.

    With ``incremental`` (the build was incremental), patch a copy of the
    published file when it contains the previous build's tables. Returns the
    mode (``patched`` or ``copied``), the reason for a copy (None for a
    patch) and the row count of each table.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    _remove_staging_files(warehouse)
    staging_file = warehouse.with_name(f".{warehouse.name}.publishing-{os.getpid()}")
    state = _read_state(work_db)
    reason = _copy_reason(warehouse, state) if incremental else "the build was full"
    patch = reason is None
    if patch:
        shutil.copyfile(warehouse, staging_file)
    row_counts: dict[str, int] = {}
    connection = duckdb.connect(str(staging_file))
    try:
        if patch:
            # A patch deletes rows across whole tables. Merging the row groups
            # it thins out took 0.7 s of a 3 s patch at a million invoices, and
            # MAX_GROWTH makes the next publication a full copy in time anyway.
            connection.execute("SET max_vacuum_tasks = 0")
        connection.execute("attach ? as work (read_only)", [str(work_db)])
        for table in PUBLIC_TABLES:
            if patch and table in SCOPED_TABLES:
                _patch_table(connection, table, *SCOPED_TABLES[table])
            else:
                # Table names come from the constant above, never from input.
                connection.execute(
                    f"create or replace table main.{table} as"  # noqa: S608
                    f" select * from work.marts.{table}"
                )
            row_counts[table] = connection.execute(
                f"select count(*) from main.{table}"  # noqa: S608
            ).fetchone()[0]
        connection.execute("detach work")
        connection.execute("checkpoint")
    except BaseException:
        connection.close()
        staging_file.unlink(missing_ok=True)
        raise
    connection.close()
    _fsync(staging_file)
    # A write-ahead log left by someone who wrote to the published file
    # belongs to that file. Beside the new file it would make DuckDB refuse
    # to open it, so it goes before the swap.
    _wal_file(warehouse).unlink(missing_ok=True)
    os.replace(staging_file, warehouse)
    _fsync(warehouse.parent)
    mode = "patched" if patch else "copied"
    _record_publication(work_db, warehouse, state, mode)
    log.info("published %d tables to %s (%s%s)", len(row_counts), warehouse, mode,
             f": {reason}" if reason else "")
    return {"mode": mode, "reason": reason, "rows": row_counts}


def _patch_table(
    connection: duckdb.DuckDBPyConnection, table: str, column: str, key_queries: tuple[str, ...]
) -> None:
    """Replace the rows of the listed keys with the work database's rows."""
    # Names and queries come from SCOPED_TABLES, never from input. The keys
    # are listed before the delete, which may change them.
    keys = " union ".join(f"({query})" for query in key_queries)
    connection.execute(f"create or replace temp table patch_keys as {keys}")
    connection.execute(
        f"delete from main.{table} where {column} in (select * from patch_keys)"  # noqa: S608
    )
    connection.execute(
        f"insert into main.{table} select * from work.marts.{table}"  # noqa: S608
        f" where {column} in (select * from patch_keys)"
    )


def publication_record(work_db: Path) -> Path:
    """Return the path of the record of the last publication."""
    return work_db.with_name("publication.json")


def _read_state(work_db: Path) -> dict[str, str | None]:
    """Return the build state of the work database with the last publication's record."""
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        state = dict(connection.execute("select key, value from raw.build_state").fetchall())
    except duckdb.CatalogException:
        state = {}
    finally:
        connection.close()
    try:
        published = json.loads(publication_record(work_db).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # A record that is missing or cut short makes this publication copy in full.
        published = {}
    if isinstance(published, dict) and _valid_record(published):
        state.update({key: published.get(key) for key in PUBLICATION_KEYS})
    return state


def _valid_record(published: dict) -> bool:
    """Check that a publication record has text values and a whole-number size."""
    if not all(isinstance(published.get(key), str | None) for key in PUBLICATION_KEYS):
        return False
    return str(published.get("published_full_size") or "0").isdecimal()


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def _wal_file(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def _remove_staging_files(warehouse: Path) -> None:
    """Remove the staging files of publications that were killed.

    Runs hold the run lock while they publish, so no other run is writing
    one of these files.
    """
    for path in warehouse.parent.glob(f".{warehouse.name}.publishing-*"):
        log.info("removing %s, left by a publication that did not finish", path)
        path.unlink(missing_ok=True)


def _copy_reason(warehouse: Path, state: dict[str, str | None]) -> str | None:
    """Return why the published file cannot be patched, or None when it can.

    A patch needs the file that the previous build's run published, unchanged.
    A write-ahead log beside it means that someone wrote to it since, even
    when the file itself looks unchanged.
    """
    if not warehouse.exists():
        return "no warehouse was published yet"
    if _wal_file(warehouse).exists():
        return "someone wrote to the published file after it was published"
    if not state.get("built_before"):
        return "the work database has no earlier build"
    if not state.get("published_build"):
        return "the record of the last publication is missing or invalid"
    if state["published_build"] != state["built_before"]:
        return "the published file is not the last build's"
    if state.get("published_file") != _file_identity(warehouse):
        return "the published file changed after it was published"
    full_size = int(state.get("published_full_size") or 0)
    if warehouse.stat().st_size > MAX_GROWTH * full_size:
        return f"the published file grew past {MAX_GROWTH} times the size of its last full copy"
    return None


def _record_publication(
    work_db: Path, warehouse: Path, state: dict[str, str | None], mode: str
) -> None:
    """Keep which build and which file were published, for the next patch."""
    values = {
        "published_build": state.get("built"),
        "published_file": _file_identity(warehouse),
        "published_full_size": (
            str(warehouse.stat().st_size) if mode == "copied"
            else state.get("published_full_size")
        ),
    }
    record = publication_record(work_db)
    partial = record.with_name(record.name + ".partial")
    try:
        partial.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
        _fsync(partial)
        os.replace(partial, record)
    except OSError as error:
        # The warehouse is published already. Without a record the next
        # publication copies every table, which is slower but still correct.
        log.warning(
            "writing %s failed (%s), so the next publication copies every table", record, error
        )


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
