"""Read-only queries on a published warehouse, shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shortpay.bench.compare import LOAD_DATED_COLUMNS, LOAD_DATED_EXCEPTIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = REPO_ROOT / "rules"
SAMPLE_INBOX = REPO_ROOT / "data" / "sample"


def query(database: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    """Run one query on a read-only connection to a published warehouse."""
    connection = duckdb.connect(str(database), read_only=True)
    try:
        return connection.execute(sql, parameters or []).fetchall()
    finally:
        connection.close()




def table_contents(database: Path, without_load_dates: bool = False) -> dict[str, list[tuple]]:
    """Every table of a database with its rows in a stable order.

    With ``without_load_dates``, the dates of the exceptions in
    LOAD_DATED_EXCEPTIONS are left out, for comparing a warehouse with one
    rebuilt from scratch.
    """
    connection = duckdb.connect(str(database), read_only=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'main' order by table_name"
            ).fetchall()
        ]
        contents = {}
        for table in tables:
            cursor = connection.execute(f'select * from "{table}"')
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
            if without_load_dates and table == "exceptions":
                rows = [_without_load_dates(names, row) for row in rows]
            contents[table] = sorted(rows, key=repr)
        return contents
    finally:
        connection.close()


def _without_load_dates(names: list[str], row: tuple) -> tuple:
    values = dict(zip(names, row, strict=True))
    if values["exception_type"] not in LOAD_DATED_EXCEPTIONS:
        return row
    return tuple(None if name in LOAD_DATED_COLUMNS else values[name] for name in names)
