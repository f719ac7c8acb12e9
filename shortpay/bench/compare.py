"""Compare two published warehouses row by row, such as an increment and a rebuild."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Exceptions dated by the clock when a file was loaded or a check ran. A
# rebuild from scratch loads and checks again, after midnight perhaps, so
# these dates are left out of a comparison.
LOAD_DATED_EXCEPTIONS = ("ingest_error", "duplicate_payment", "data_quality")
LOAD_DATED_COLUMNS = ("detected_at", "age_days")


def _rows(alias: str, table: str, columns: list[str]) -> str:
    """Return a query for a table's rows, without the load dates of exceptions."""
    # Names come from the databases' own catalogs and are quoted.
    if table != "exceptions":
        return f'select * from {alias}.main."{table}"'  # noqa: S608
    types = ", ".join(f"'{name}'" for name in LOAD_DATED_EXCEPTIONS)
    replaced = ", ".join(
        f'case when exception_type in ({types}) then null else "{name}" end as "{name}"'
        for name in LOAD_DATED_COLUMNS if name in columns
    )
    return f'select * replace ({replaced}) from {alias}.main."{table}"'  # noqa: S608


def differing_tables(first: Path, second: Path) -> dict[str, dict[str, int]]:
    """Return the tables whose rows differ, each with its row counts found on one side only.

    Rows are compared as whole rows, with duplicates counted (EXCEPT ALL).
    A table that one warehouse lacks counts every row of the other. Two
    equal warehouses give an empty result.
    """
    connection = duckdb.connect()
    try:
        connection.execute("attach ? as first_warehouse (read_only)", [str(first)])
        connection.execute("attach ? as second_warehouse (read_only)", [str(second)])
        columns: dict[tuple[str, str], list[str]] = {}
        for database, table, column in connection.execute(
            "select database_name, table_name, column_name from duckdb_columns()"
            " where database_name in ('first_warehouse', 'second_warehouse')"
            " and schema_name = 'main' order by column_index"
        ).fetchall():
            columns.setdefault((database, table), []).append(column)
        tables = sorted({table for _, table in columns})
        differing = {}
        for table in tables:
            counts = {}
            for side, (alias, other) in {
                "only_in_first": ("first_warehouse", "second_warehouse"),
                "only_in_second": ("second_warehouse", "first_warehouse"),
            }.items():
                if (alias, table) not in columns:
                    counts[side] = 0
                elif (other, table) not in columns:
                    counts[side] = connection.execute(
                        f"select count(*) from ({_rows(alias, table, columns[alias, table])})"  # noqa: S608
                    ).fetchone()[0]
                else:
                    counts[side] = connection.execute(
                        f"select count(*) from ({_rows(alias, table, columns[alias, table])}"  # noqa: S608
                        f" except all {_rows(other, table, columns[other, table])})"
                    ).fetchone()[0]
            if any(counts.values()):
                differing[table] = counts
        return differing
    finally:
        connection.close()
