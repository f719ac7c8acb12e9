"""The row-by-row comparison of two published warehouses in ``shortpay bench --increment``."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shortpay.bench.compare import differing_tables

EXCEPTIONS_DDL = (
    "create table exceptions (exception_id varchar, exception_type varchar,"
    " detected_at timestamp, age_days integer, amount decimal(18, 2))"
)


def write_warehouse(path: Path, statements: list[str]) -> Path:
    with duckdb.connect(str(path)) as connection:
        for statement in statements:
            connection.execute(statement)
    return path


def test_equal_warehouses_give_nothing(tmp_path):
    statements = [
        "create table fct_payments (payment_id varchar, amount decimal(18, 2))",
        "insert into fct_payments values ('P1', 10.00), ('P2', 20.00)",
        EXCEPTIONS_DDL,
        "insert into exceptions values ('E1', 'ambiguous_match', '2026-11-30 10:00', 0, 5.00)",
    ]
    first = write_warehouse(tmp_path / "first.duckdb", statements)
    second = write_warehouse(tmp_path / "second.duckdb", statements)
    assert differing_tables(first, second) == {}


def test_differences_are_counted_per_side(tmp_path):
    first = write_warehouse(tmp_path / "first.duckdb", [
        "create table fct_payments (payment_id varchar, amount decimal(18, 2))",
        "insert into fct_payments values ('P1', 10.00), ('P2', 20.00), ('P2', 20.00)",
        EXCEPTIONS_DDL,
        "insert into exceptions values"
        " ('E1', 'ingest_error', '2026-11-30 23:59', 0, null),"
        " ('E2', 'ambiguous_match', '2026-11-30 23:59', 0, 5.00)",
        "create table rpt_extra (x integer)",
        "insert into rpt_extra values (1), (2), (3)",
    ])
    second = write_warehouse(tmp_path / "second.duckdb", [
        "create table fct_payments (payment_id varchar, amount decimal(18, 2))",
        # One of the two equal P2 rows is missing and P1 has another amount.
        "insert into fct_payments values ('P1', 10.01), ('P2', 20.00)",
        EXCEPTIONS_DDL,
        # A load-dated exception with another date is the same row. Any
        # other exception with another date is not.
        "insert into exceptions values"
        " ('E1', 'ingest_error', '2026-12-01 00:01', 1, null),"
        " ('E2', 'ambiguous_match', '2026-12-01 00:01', 1, 5.00)",
    ])
    assert differing_tables(first, second) == {
        "exceptions": {"only_in_first": 1, "only_in_second": 1},
        "fct_payments": {"only_in_first": 2, "only_in_second": 1},
        "rpt_extra": {"only_in_first": 3, "only_in_second": 0},
    }
