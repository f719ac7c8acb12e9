"""Publish the marts of the work database as the warehouse readers open.

The public tables are copied into a new DuckDB file beside the published
one, which then replaces it with one ``os.replace``. A reader that has the
old file open keeps reading it untouched (the old inode stays alive until
it closes), and the next reader opens the new file, so no reader sees a
half-built table. A run that fails before this step leaves the last good
warehouse in place.
"""

from __future__ import annotations

import logging
import os
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


def publish_warehouse(work_db: Path, warehouse: Path) -> dict[str, int]:
    """Copy the public tables into a fresh file and swap it in atomically.

    Returns the row count of each published table.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging_file = warehouse.with_name(f".{warehouse.name}.publishing-{os.getpid()}")
    staging_file.unlink(missing_ok=True)
    row_counts: dict[str, int] = {}
    connection = duckdb.connect(str(staging_file))
    try:
        connection.execute("attach ? as work (read_only)", [str(work_db)])
        for table in PUBLIC_TABLES:
            # Table names come from the constant above, never from input.
            connection.execute(
                f"create table main.{table} as select * from work.marts.{table}"  # noqa: S608
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
    os.replace(staging_file, warehouse)
    _fsync(warehouse.parent)
    log.info("published %d tables to %s", len(row_counts), warehouse)
    return row_counts


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
