"""Read-only queries on a published warehouse, shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import duckdb

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


def table_contents(database: Path) -> dict[str, list[tuple]]:
    """Every table of a database with its rows in a stable order."""
    connection = duckdb.connect(str(database), read_only=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'main' order by table_name"
            ).fetchall()
        ]
        return {
            table: sorted(
                connection.execute(f'select * from "{table}"').fetchall(),
                key=repr,
            )
            for table in tables
        }
    finally:
        connection.close()
