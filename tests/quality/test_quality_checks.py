"""run_quality_checks against real DuckDB files and the suites in expectations/."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from quality_db import build_work_db

from shortpay.quality import Failure, run_quality_checks, write_failures
from shortpay.settings import EXPECTATIONS_DIR

AS_OF = date(2026, 12, 4)

BAD_ROWS_SQL = """
insert into marts.fct_deductions
    (deduction_id, payment_id, customer_id, deduction_amount, category, validity,
     valid_amount, invalid_amount, status, days_outstanding, owner)
values
    ('D4', 'P1', 'C1', -5.00, 'pricing', 'invalid', 0.00, -5.00, 'open', 2, 'ana'),
    ('D5', 'P1', 'C1', 40.00, 'shortage', 'valid', 30.00, 0.00, 'open', 2, 'ana'),
    ('D6', 'P1', 'C1', 10.00, 'lunch', 'needs_review', 0.00, 0.00, 'pending', 2, 'ana'),
    ('D1', 'P1', 'C1', 12.00, 'damage', 'needs_review', 2.00, 0.00, 'open', 2, 'ana');
insert into marts.fct_payments
    (payment_id, customer_id, payment_date, payment_amount, applied_amount, unapplied_amount)
values ('P3', 'C1', date '2027-01-15', 50.00, -10.00, 60.00),
       ('P4', 'C1', null, 20.00, 20.00, 0.00);
insert into marts.dim_customers
    (customer_id, customer_name, ar_contact_email, parent_customer_id)
values ('C3', 'Fabrikam', 'payables at fabrikam', null),
       ('C4', 'Tailspin', 'ar@tailspin.example', 'C4');
insert into intermediate.int_invoices_prepared (invoice_id, customer_id) values (null, 'C1'), ('I2', 'C1');
"""


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """One run over a work database with known bad rows, shared by the tests below."""
    work_db = build_work_db(tmp_path_factory.mktemp("bad") / "work.duckdb", BAD_ROWS_SQL)
    result = run_quality_checks(work_db, EXPECTATIONS_DIR, "run-7", as_of=AS_OF)
    return work_db, result


def read_failures(work_db: Path) -> list[tuple]:
    connection = duckdb.connect(str(work_db), read_only=True)
    try:
        return connection.execute(
            """
            select check_id, severity, table_name, entity_type, entity_id, column_name, run_id
            from raw.dq_failures
            order by check_id, entity_id nulls first
            """
        ).fetchall()
    finally:
        connection.close()


def write_suite(folder: Path, name: str, table: str, key: str, expectations: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "name": name,
        "meta": {"table": table, "key_column": key, "entity_type": "deduction", "notes": "test"},
        "expectations": expectations,
    }
    (folder / f"{name}.json").write_text(json.dumps(document, indent=2), encoding="utf-8")


def not_null(check_id: str, column: str) -> dict:
    return {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": column},
        "meta": {"check_id": check_id, "column": column},
        "notes": f"{column} is required.",
    }


def test_clean_database_passes(work_db):
    result = run_quality_checks(work_db, EXPECTATIONS_DIR, "run-1", as_of=AS_OF)

    assert result.check_errors == []
    assert result.checks_failed == 0
    assert result.checks_passed == result.checks_run
    assert result.checks_run == 31
    assert result.blocking_failed is False
    assert result.failures_written == 0
    assert read_failures(work_db) == []


def test_known_bad_rows_reported_exactly(bad_run):
    # Fails without FetchingExecutionEngine: GX then reads empty metrics and
    # every expectation ends in an error instead of listing these rows.
    work_db, result = bad_run

    deductions = "marts.fct_deductions"
    assert read_failures(work_db) == [
        (
            "applied_amount_not_negative",
            "error",
            "marts.fct_payments",
            "payment",
            "P3",
            "applied_amount",
            "run-7",
        ),
        (
            "ar_contact_email_is_address",
            "warning",
            "marts.dim_customers",
            "customer",
            "C3",
            "ar_contact_email",
            "run-7",
        ),
        ("category_in_set", "error", deductions, "deduction", "D6", "category", "run-7"),
        (
            "deduction_amount_positive",
            "error",
            deductions,
            "deduction",
            "D4",
            "deduction_amount",
            "run-7",
        ),
        ("deduction_id_unique", "error", deductions, "deduction", "D1", "deduction_id", "run-7"),
        ("deduction_id_unique", "error", deductions, "deduction", "D1", "deduction_id", "run-7"),
        (
            "invoice_id_not_null",
            "error",
            "intermediate.int_invoices_prepared",
            "invoice",
            None,
            "invoice_id",
            "run-7",
        ),
        (
            "invoice_id_unique_per_customer",
            "error",
            "intermediate.int_invoices_prepared",
            "invoice",
            "I2",
            "invoice_id",
            "run-7",
        ),
        (
            "invoice_id_unique_per_customer",
            "error",
            "intermediate.int_invoices_prepared",
            "invoice",
            "I2",
            "invoice_id",
            "run-7",
        ),
        (
            "needs_review_split_is_zero",
            "error",
            deductions,
            "deduction",
            "D1",
            "valid_amount",
            "run-7",
        ),
        (
            "parent_customer_not_circular",
            "warning",
            "marts.dim_customers",
            "customer",
            "C4",
            "parent_customer_id",
            "run-7",
        ),
        (
            "payment_date_not_after_as_of_date",
            "warning",
            "marts.fct_payments",
            "payment",
            "P3",
            "payment_date",
            "run-7",
        ),
        (
            "payment_date_present",
            "warning",
            "marts.fct_payments",
            "payment",
            "P4",
            "payment_date",
            "run-7",
        ),
        ("status_in_set", "error", deductions, "deduction", "D6", "status", "run-7"),
        ("validity_split_adds_up", "error", deductions, "deduction", "D5", "valid_amount", "run-7"),
    ]
    assert result.check_errors == []
    assert result.checks_failed == 13
    assert result.checks_passed == 18
    assert result.failures_written == 15
    assert result.blocking_failed is True


def test_failure_message_names_values(bad_run):
    work_db, _ = bad_run

    connection = duckdb.connect(str(work_db), read_only=True)
    message = connection.execute(
        "select message from raw.dq_failures where check_id = 'validity_split_adds_up'"
    ).fetchone()[0]
    connection.close()
    assert message.startswith(
        "validity_split_adds_up: deduction_id D5 has deduction_amount = 40.00, "
        "valid_amount = 30.00, invalid_amount = 0.00. "
    )


def test_warning_failure_does_not_block(tmp_path):
    work_db = build_work_db(
        tmp_path / "work.duckdb",
        "update marts.dim_customers set ar_contact_email = 'nobody' where customer_id = 'C2'",
    )

    result = run_quality_checks(work_db, EXPECTATIONS_DIR, "run-1", as_of=AS_OF)

    assert result.checks_failed == 1
    assert result.blocking_failed is False
    assert read_failures(work_db) == [
        (
            "ar_contact_email_is_address",
            "warning",
            "marts.dim_customers",
            "customer",
            "C2",
            "ar_contact_email",
            "run-1",
        ),
    ]


def test_as_of_date_moves_future_check(work_db):
    result = run_quality_checks(work_db, EXPECTATIONS_DIR, "run-1", as_of=date(2026, 11, 30))

    assert result.checks_failed == 1
    assert result.blocking_failed is False
    assert [row[4] for row in read_failures(work_db)] == ["P2"]


def test_missing_table_is_check_error(tmp_path):
    work_db = build_work_db(tmp_path / "work.duckdb", "drop table marts.fct_payments")

    result = run_quality_checks(work_db, EXPECTATIONS_DIR, "run-1", as_of=AS_OF)

    errored = sorted((suite, check) for suite, check, _ in result.check_errors)
    assert errored == [
        ("payment_dates", "payment_amount_positive"),
        ("payment_dates", "payment_date_not_after_as_of_date"),
        ("payment_dates", "payment_date_present"),
        ("payment_dates", "unapplied_amount_not_negative"),
        ("payments", "applied_amount_not_negative"),
        ("payments", "payment_id_not_null"),
        ("payments", "payment_id_unique"),
    ]
    assert all("fct_payments" in text for _, _, text in result.check_errors)
    assert result.checks_run == 31
    assert result.checks_passed == 24
    assert result.checks_failed == 0
    assert result.failures_written == 0
    assert result.blocking_failed is True


def test_missing_column_is_check_error(work_db, tmp_path):
    suites = tmp_path / "suites"
    write_suite(
        suites / "warning",
        "details",
        "marts.fct_deductions",
        "deduction_id",
        [not_null("owner_present", "owner"), not_null("region_present", "region")],
    )

    result = run_quality_checks(work_db, suites, "run-1", as_of=AS_OF)

    assert [(suite, check) for suite, check, _ in result.check_errors] == [
        ("details", "region_present")
    ]
    assert "region" in result.check_errors[0][2]
    assert result.checks_run == 2
    assert result.checks_passed == 1
    assert result.checks_failed == 0
    assert result.blocking_failed is True


def test_invalid_suite_file_is_check_error(work_db, tmp_path):
    folder = tmp_path / "suites" / "blocking"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{not json", encoding="utf-8")

    result = run_quality_checks(work_db, tmp_path / "suites", "run-1", as_of=AS_OF)

    assert [(suite, check) for suite, check, _ in result.check_errors] == [("broken", "")]
    assert result.checks_run == 0
    assert result.blocking_failed is True


def test_unsafe_table_name_rejected(work_db, tmp_path):
    suites = tmp_path / "suites"
    write_suite(
        suites / "blocking",
        "sneaky",
        "marts.fct_deductions; drop table marts.fct_payments",
        "deduction_id",
        [not_null("id_present", "deduction_id")],
    )

    result = run_quality_checks(work_db, suites, "run-1", as_of=AS_OF)

    assert len(result.check_errors) == 1
    assert "is not a schema.table name" in result.check_errors[0][2]
    connection = duckdb.connect(str(work_db), read_only=True)
    tables = connection.execute(
        "select count(*) from duckdb_tables() where table_name = 'fct_payments'"
    ).fetchone()[0]
    connection.close()
    assert tables == 1


def test_run_replaces_earlier_failures(tmp_path):
    """A failure no longer found is gone; one found again keeps its first detection time."""
    work_db = build_work_db(tmp_path / "work.duckdb", BAD_ROWS_SQL)
    connection = duckdb.connect(str(work_db))
    connection.execute(
        """
        create table raw.dq_failures as
        select 'old_check' as check_id, 'old' as suite, 'error' as severity,
            'marts.fct_deductions' as table_name, 'deduction' as entity_type,
            'D9' as entity_id, 'deduction_id' as column_name, 'stale' as message,
            run_id, timestamp '2026-01-05 08:00:00' as detected_at
        from (values ('run-1'), ('run-2')) as runs (run_id)
        """
    )
    connection.close()
    run_quality_checks(work_db, EXPECTATIONS_DIR, "run-3", as_of=AS_OF)
    first = duckdb.connect(str(work_db), read_only=True)
    found = first.execute(
        "select check_id, entity_id, detected_at from raw.dq_failures order by all"
    ).fetchall()
    first.close()
    run_quality_checks(work_db, EXPECTATIONS_DIR, "run-4", as_of=AS_OF)

    connection = duckdb.connect(str(work_db), read_only=True)
    counts = connection.execute(
        "select run_id, count(*) from raw.dq_failures group by run_id order by run_id"
    ).fetchall()
    again = connection.execute(
        "select check_id, entity_id, detected_at from raw.dq_failures order by all"
    ).fetchall()
    connection.close()
    assert counts == [("run-4", 15)]
    assert "old_check" not in {check_id for check_id, _, _ in again}
    assert again == found


def test_connections_closed_after_run(bad_run):
    work_db, _ = bad_run

    # Another process can only open the file for writing when no connection
    # of this process is left open on it.
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "print(c.execute('select count(*) from raw.dq_failures').fetchone()[0]); c.close()"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(work_db)], capture_output=True, text=True, timeout=60
    )
    assert completed.stderr == ""
    assert completed.stdout.strip() == "15"


@pytest.mark.parametrize("folder", ["blocking", "warning"])
def test_every_expectation_has_notes(folder):
    check_ids = []
    for path in sorted((EXPECTATIONS_DIR / folder).glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert set(document["meta"]) >= {"table", "key_column", "entity_type", "notes"}, path
        for expectation in document["expectations"]:
            assert expectation["notes"].strip(), (path, expectation)
            check_ids.append(expectation["meta"]["check_id"])
        # Suites are kept pretty-printed so reviews show one change per line.
        assert path.read_text(encoding="utf-8") == json.dumps(document, indent=2) + "\n"
    assert check_ids
    assert len(check_ids) == len(set(check_ids))


def test_write_failures_into_plain_timestamp_column(work_db):
    connection = duckdb.connect(str(work_db))
    connection.execute(
        """
        create table raw.dq_failures (
            check_id varchar, suite varchar, severity varchar, table_name varchar,
            entity_type varchar, entity_id varchar, column_name varchar,
            message varchar, run_id varchar, detected_at timestamp
        )
        """
    )
    connection.close()
    failure = Failure(
        "deduction_id_unique",
        "deductions",
        "error",
        "marts.fct_deductions",
        "deduction",
        "D1",
        "deduction_id",
        "deduction_id_unique: deduction_id D1 failed.",
    )
    before = datetime.now(UTC).replace(tzinfo=None)

    written = write_failures(work_db, [failure], "run-1")

    connection = duckdb.connect(str(work_db), read_only=True)
    rows = connection.execute("select entity_id, detected_at from raw.dq_failures").fetchall()
    connection.close()
    assert written == 1
    assert rows[0][0] == "D1"
    assert before <= rows[0][1] <= datetime.now(UTC).replace(tzinfo=None)


def test_lists_every_failing_row(tmp_path):
    # By default GX lists 20 rows of a column check and 200 of a query check,
    # so 250 bad rows show whether every failing row is recorded.
    work_db = build_work_db(
        tmp_path / "work.duckdb",
        """
        insert into marts.fct_deductions
            (deduction_id, customer_id, deduction_amount, category, validity,
             valid_amount, invalid_amount, status, days_outstanding, owner)
        select 'X' || i, 'C1', -1.00, 'pricing', 'valid', 0.00, 0.00, 'open', 1, 'ana'
        from range(250) as numbers (i)
        """,
    )

    result = run_quality_checks(work_db, EXPECTATIONS_DIR, "run-1", as_of=AS_OF)

    connection = duckdb.connect(str(work_db), read_only=True)
    counts = connection.execute(
        """
        select check_id, count(*), count(distinct entity_id)
        from raw.dq_failures group by check_id order by check_id
        """
    ).fetchall()
    connection.close()
    assert counts == [
        ("deduction_amount_positive", 250, 250),
        ("validity_split_adds_up", 250, 250),
    ]
    assert result.failures_written == 500
