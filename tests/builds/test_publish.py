"""Publication: a full copy, or a patch of the last published file after an incremental build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shortpay.publish import (
    PUBLIC_TABLES,
    SCOPED_TABLES,
    publication_record,
    publish_warehouse,
)


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
        "create table intermediate.int_allocation_scope (invoice_id varchar)",
        "create table intermediate.int_deduction_scope"
        " (deduction_id varchar, invoice_id varchar)",
        "create table intermediate.int_deduction_decisions (deduction_id varchar)",
        "create table marts.fct_invoices (invoice_id varchar, amount decimal(18, 2),"
        " customer_id varchar, days_past_due integer)",
        "insert into marts.fct_invoices values ('K1', 1.00, 'C1', 5), ('K2', 2.00, 'C1', 6)",
        "create table marts.fct_deductions (deduction_id varchar, amount decimal(18, 2),"
        " days_outstanding integer, first_decided_at timestamp)",
        "insert into marts.fct_deductions values ('K1', 1.00, 5, null), ('K2', 2.00, 6, null)",
    ]
    for table in PUBLIC_TABLES:
        if table in ("fct_invoices", "fct_deductions"):  # created above
            continue
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


def publish_next_build(work_db: Path, warehouse: Path, run_id: str, *statements: str) -> dict:
    """Change the work database as a build would, record the build and publish it."""
    execute(work_db, *statements)
    finish_build(work_db, run_id)
    return publish_warehouse(work_db, warehouse, incremental=True)


# Each case: what the next build changes in the work database, then a query
# of the published file and its rows after the patch.
PATCH_CASES = {
    # A row outside the scope that changed in the work database (K1) is not
    # copied.
    "scoped table": (
        (
            "update marts.fct_payments set amount = 20.00 where payment_id = 'K2'",
            "insert into marts.fct_payments values ('K3', 3.00)",
            "update marts.fct_payments set amount = 10.00 where payment_id = 'K1'",
            "insert into intermediate.int_balance_scope values ('K2'), ('K3')",
            ),
        "select * from fct_payments order by 1",
        [("K1", Decimal("1.00")), ("K2", Decimal("20.00")), ("K3", Decimal("3.00"))],
    ),
    "small table": (
        ("insert into marts.exceptions values ('K3', 3.00)",),
        "select count(*) from exceptions",
        [(3,)],
    ),
    # A later run date makes every open invoice a day older, outside any scope.
    "days past due": (
        (
            "update marts.fct_invoices set days_past_due = days_past_due + 1",
            "update marts.fct_invoices set amount = 20.00 where invoice_id = 'K2'",
        ),
        "select * from fct_invoices order by 1",
        [("K1", Decimal("1.00"), "C1", 6), ("K2", Decimal("20.00"), "C1", 7)],
    ),
    "deductions added and gone": (
        (
            "insert into marts.fct_deductions values ('K3', 3.00, 1, null)",
            "delete from marts.fct_deductions where deduction_id = 'K2'",
        ),
        "select deduction_id from fct_deductions order by 1",
        [("K1",), ("K3",)],
    ),
}


@pytest.mark.parametrize("case", list(PATCH_CASES))
def test_incremental_build_patches(work_db, tmp_path, case):
    statements, query, expected = PATCH_CASES[case]
    warehouse = tmp_path / "warehouse.duckdb"
    publish_warehouse(work_db, warehouse)
    result = publish_next_build(work_db, warehouse, "run-2", *statements)
    assert result["mode"] == "patched"
    assert rows(warehouse, query) == expected


def test_patch_follows_review_decisions(work_db, tmp_path):
    """A decision on K1 is recorded, then taken out of the log again."""
    warehouse = tmp_path / "warehouse.duckdb"
    publish_warehouse(work_db, warehouse)
    publish_next_build(
        work_db, warehouse, "run-2",
        "insert into intermediate.int_deduction_decisions values ('K1')",
        "update marts.fct_deductions set amount = 0.50, first_decided_at = timestamp"
        " '2026-12-01 09:00:00' where deduction_id = 'K1'",
        "update marts.fct_deductions set days_outstanding = days_outstanding + 1",
    )
    assert rows(
        warehouse, "select deduction_id, amount, days_outstanding from fct_deductions order by 1"
    ) == [("K1", Decimal("0.50"), 6), ("K2", Decimal("2.00"), 7)]

    publish_next_build(
        work_db, warehouse, "run-3",
        "delete from intermediate.int_deduction_decisions",
        "update marts.fct_deductions set amount = 1.00, first_decided_at = null"
        " where deduction_id = 'K1'",
    )
    assert rows(
        warehouse, "select deduction_id, amount, first_decided_at from fct_deductions order by 1"
    ) == [("K1", Decimal("1.00"), None), ("K2", Decimal("2.00"), None)]


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
    elif change in ("grown file", "size not a number"):
        size = "1" if change == "grown file" else "abc"
        record = publication_record(work_db)
        published = json.loads(record.read_text(encoding="utf-8"))
        record.write_text(json.dumps({**published, "published_full_size": size}), encoding="utf-8")
    elif change == "record cut short":
        record = publication_record(work_db)
        record.write_text(record.read_text(encoding="utf-8")[:40], encoding="utf-8")
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
    ("change", "incremental", "reason"),
    [
        ("full build", False, "the build was full"),
        ("unpublished build", True, "the published file is not the last build's"),
        ("changed file", True, "the published file changed after it was published"),
        ("grown file", True,
         "the published file grew past 1.5 times the size of its last full copy"),
        ("size not a number", True, "the record of the last publication is missing or invalid"),
        ("record cut short", True, "the record of the last publication is missing or invalid"),
        ("write in the log", True, "someone wrote to the published file after it was published"),
    ],
)
def test_publication_copies_when_patch_unsafe(work_db, tmp_path, change, incremental, reason):
    warehouse = tmp_path / "warehouse.duckdb"
    publish_warehouse(work_db, warehouse)
    make_stale(work_db, warehouse, change)
    finish_build(work_db, "run-2")
    result = publish_warehouse(work_db, warehouse, incremental=incremental)
    assert result["mode"] == "copied"
    assert result["reason"] == reason
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
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "publication.json", "warehouse.duckdb", "work.duckdb",
    ]



def test_unwritable_record_still_publishes(work_db, tmp_path, caplog):
    warehouse = tmp_path / "warehouse.duckdb"
    publication_record(work_db).mkdir()
    assert publish_warehouse(work_db, warehouse)["mode"] == "copied"
    assert "the next publication copies every table" in caplog.text
    finish_build(work_db, "run-2")
    assert publish_warehouse(work_db, warehouse, incremental=True)["mode"] == "copied"
    assert rows(warehouse, "select count(*) from fct_payments") == [(2,)]
