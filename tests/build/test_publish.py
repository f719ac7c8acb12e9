"""Publication: a full copy, or a patch of the last published file after an incremental build."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shortpay.publish import PUBLIC_TABLES, SCOPED_TABLES, publish_warehouse


def execute(database: Path, *statements: str) -> None:
    connection = duckdb.connect(str(database))
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def rows(database: Path, sql: str) -> list[tuple]:
    connection = duckdb.connect(str(database), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def finish_build(work_db: Path, run_id: str) -> None:
    """Record a completed build the way record_build does."""
    execute(
        work_db,
        "delete from raw.build_state where key = 'built_before'",
        "update raw.build_state set key = 'built_before' where key = 'built'",
        f"insert into raw.build_state values ('built', '{run_id}')",
    )


@pytest.fixture
def work_db(tmp_path: Path) -> Path:
    """A work database with one row per public table and empty scopes."""
    path = tmp_path / "work.duckdb"
    statements = [
        "create schema raw",
        "create schema marts",
        "create schema intermediate",
        "create table raw.build_state (key varchar, value varchar)",
        "create table intermediate.int_invoice_scope (invoice_id varchar)",
        "create table intermediate.int_payment_scope (payment_id varchar)",
        "create table intermediate.int_balance_scope (payment_id varchar)",
    ]
    for table in PUBLIC_TABLES:
        column = SCOPED_TABLES.get(table, ("id",))[0]
        statements += [
            f"create table marts.{table} ({column} varchar, amount decimal(18, 2))",
            f"insert into marts.{table} values ('K1', 1.00), ('K2', 2.00)",
        ]
    execute(path, *statements)
    finish_build(path, "run-1")
    return path


def test_first_publication_copies(work_db, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    result = publish_warehouse(work_db, warehouse, incremental=True)
    assert result["mode"] == "copied"
    assert result["rows"] == {table: 2 for table in PUBLIC_TABLES}


def test_incremental_build_patches_scoped_tables(work_db, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    publish_warehouse(work_db, warehouse)
    # The next build changes K2 of fct_payments and adds K3; a row outside the
    # scope that changed in the work database would not be copied.
    execute(
        work_db,
        "update marts.fct_payments set amount = 20.00 where payment_id = 'K2'",
        "insert into marts.fct_payments values ('K3', 3.00)",
        "update marts.fct_payments set amount = 10.00 where payment_id = 'K1'",
        "insert into intermediate.int_balance_scope values ('K2'), ('K3')",
        "insert into marts.exceptions values ('K3', 3.00)",
    )
    finish_build(work_db, "run-2")
    result = publish_warehouse(work_db, warehouse, incremental=True)
    assert result["mode"] == "patched"
    assert rows(warehouse, "select * from fct_payments order by 1") == [
        ("K1", Decimal("1.00")), ("K2", Decimal("20.00")), ("K3", Decimal("3.00")),
    ]
    assert rows(warehouse, "select count(*) from exceptions") == [(3,)]


def make_stale(work_db: Path, warehouse: Path, change: str) -> None:
    """Break one condition of a patch after a first publication."""
    if change == "full build":
        return
    if change == "unpublished build":
        # A build whose run did not publish (a blocking check failed).
        finish_build(work_db, "run-1b")
    elif change == "changed file":
        stat = warehouse.stat()
        os.utime(warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    elif change == "grown file":
        execute(work_db, "update raw.build_state set value = '1' where key = 'published_full_size'")
    elif change == "write in the log":
        # A writer killed before its checkpoint leaves its changes in the
        # write-ahead log, and the file itself unchanged.
        script = (
            "import duckdb, os, signal; "
            f"connection = duckdb.connect({str(warehouse)!r}); "
            "connection.execute('update fct_payments set amount = amount + 1'); "
            "os.kill(os.getpid(), signal.SIGKILL)"
        )
        subprocess.run([sys.executable, "-c", script], check=False)
        assert warehouse.with_name(warehouse.name + ".wal").exists()


@pytest.mark.parametrize(
    ("change", "incremental"),
    [("full build", False), ("unpublished build", True), ("changed file", True),
     ("grown file", True), ("write in the log", True)],
)
def test_publication_copies_when_patch_unsafe(work_db, tmp_path, change, incremental):
    warehouse = tmp_path / "warehouse.duckdb"
    publish_warehouse(work_db, warehouse)
    make_stale(work_db, warehouse, change)
    finish_build(work_db, "run-2")
    assert publish_warehouse(work_db, warehouse, incremental=incremental)["mode"] == "copied"
    assert not warehouse.with_name(warehouse.name + ".wal").exists()
    assert rows(warehouse, "select * from fct_payments order by 1") == [
        ("K1", Decimal("1.00")), ("K2", Decimal("2.00")),
    ]


def test_killed_publication_leaves_no_staging_files(work_db, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    left_behind = [
        tmp_path / ".warehouse.duckdb.publishing-99999",
        tmp_path / ".warehouse.duckdb.publishing-99999.wal",
    ]
    for path in left_behind:
        path.write_bytes(b"partial")
    publish_warehouse(work_db, warehouse)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["warehouse.duckdb", "work.duckdb"]
