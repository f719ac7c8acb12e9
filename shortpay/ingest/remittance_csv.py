"""Remittance CSV (``remittances*.csv``): payments, remittance lines and adjustments in SQL.

One row is one invoice reference within a payment; the rows that share a
``payment_id`` form one payment. A row with an empty ``invoice_reference``
and an adjustment is a payment-level adjustment, which belongs to no invoice
(its ``paid_amount`` is the adjustment's negative, so the paid amounts still
add up to the payment). A row with an empty reference and no adjustment is a
remittance line without a reference, matched by amount. All work happens in
DuckDB so that a file of a million rows loads in seconds.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import duckdb

from shortpay.ingest.context import FileContext
from shortpay.ingest.csv_extract import ColumnSpec, cast_sql, drop_staging, stage_csv

logger = logging.getLogger(__name__)

REMITTANCE_SPECS: list[ColumnSpec] = [
    ColumnSpec("payment_id", required=True),
    ColumnSpec("customer_id", required=True),
    ColumnSpec("payment_date", "date", required=True),
    ColumnSpec("payment_amount", "money", required=True),
    ColumnSpec("currency", "currency", required=True),
    ColumnSpec("invoice_reference", required=True, allow_empty=True),
    ColumnSpec("paid_amount", "money", required=True),
    ColumnSpec("adjustment_amount", "money"),
    ColumnSpec("adjustment_reason_code"),
    ColumnSpec("adjustment_memo"),
    ColumnSpec("line_number", "integer"),
    ColumnSpec("payer_name"),
    ColumnSpec("payer_account"),
    ColumnSpec("is_partial", "boolean"),
]


PARTIAL_SPEC = next(spec for spec in REMITTANCE_SPECS if spec.name == "is_partial")


def load_remittance_csv(
    con: duckdb.DuckDBPyConnection, context: FileContext, csv_path: Path, data: bytes
) -> None:
    """Load a UTF-8 remittance CSV into raw.payments, raw.remittance_lines and raw.adjustments.

    Raises CsvRejected when the whole file is rejected.
    """
    stage_csv(con, context, csv_path, data, REMITTANCE_SPECS)
    con.execute("DROP TABLE IF EXISTS ingest_remittance_rows")
    # The only interpolated text is the cast of a fixed column spec.
    con.execute(
        "CREATE TEMP TABLE ingest_remittance_rows AS SELECT line, payment_id, customer_id, "  # noqa: S608
        "CAST(payment_date AS DATE) AS payment_date, "
        "CAST(payment_amount AS DECIMAL(18, 2)) AS payment_amount, "
        "upper(currency) AS currency, invoice_reference, "
        "CAST(paid_amount AS DECIMAL(18, 2)) AS paid_amount, "
        "CAST(adjustment_amount AS DECIMAL(18, 2)) AS adjustment_amount, "
        "adjustment_reason_code, adjustment_memo, "
        "CAST(line_number AS INTEGER) AS csv_line_number, payer_name, payer_account, "
        f"coalesce({cast_sql(PARTIAL_SPEC)}, false) AS is_partial, "
        "invoice_reference IS NULL "
        "AND coalesce(CAST(adjustment_amount AS DECIMAL(18, 2)), 0) <> 0 "
        "AS is_payment_level "
        "FROM ingest_csv_checked WHERE reasons = ''"
    )
    _reject_inconsistent_payments(con, context)
    _collect_payments(con, context)
    _skip_resent_payments(con, context)
    _insert_records(con, context)
    for table in (
        "ingest_remittance_rows",
        "ingest_remittance_conflicts",
        "ingest_remittance_payments",
        "ingest_remittance_resent",
    ):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    drop_staging(con)


def _reject_inconsistent_payments(con: duckdb.DuckDBPyConnection, context: FileContext) -> None:
    """Record payments whose rows disagree on amount, currency, customer or date.

    A payment whose rows repeat a line number is rejected too, because each
    line of a payment must be applied once.
    """
    con.execute("DROP TABLE IF EXISTS ingest_remittance_conflicts")
    con.execute(
        "CREATE TEMP TABLE ingest_remittance_conflicts AS SELECT * FROM ("
        "SELECT payment_id, min(line) AS first_line, "
        "string_agg(CAST(line AS VARCHAR), ', ' ORDER BY line) AS lines, concat_ws('; ', "
        "'have different ' || nullif(concat_ws(', ', "
        "CASE WHEN count(DISTINCT payment_amount) > 1 THEN 'payment_amount' END, "
        "CASE WHEN count(DISTINCT currency) > 1 THEN 'currency' END, "
        "CASE WHEN count(DISTINCT customer_id) > 1 THEN 'customer_id' END, "
        "CASE WHEN count(DISTINCT payment_date) > 1 THEN 'payment_date' END), ''), "
        "CASE WHEN count(csv_line_number) > count(DISTINCT csv_line_number) "
        "THEN 'repeat a line_number' END) AS problems "
        "FROM ingest_remittance_rows GROUP BY payment_id) WHERE problems <> ''"
    )
    inserted = con.execute(
        "INSERT INTO raw.ingest_issues SELECT ?, ?, 'line ' || first_line, "
        "format('payment {} is rejected: its rows (lines {}) {}', "
        "payment_id, lines, problems), 'error', ?, ? "
        "FROM ingest_remittance_conflicts ORDER BY first_line",
        [context.file_hash, context.source_file, context.run_id, context.started_at],
    ).fetchone()
    context.issue_count += inserted[0] if inserted else 0


def _collect_payments(con: duckdb.DuckDBPyConnection, context: FileContext) -> None:
    """Build one payment per consistent payment_id, with its fingerprint."""
    con.execute("DROP TABLE IF EXISTS ingest_remittance_payments")
    con.execute(
        "CREATE TEMP TABLE ingest_remittance_payments AS SELECT payment_id, "
        "any_value(payment_amount) AS payment_amount, any_value(currency) AS currency, "
        "any_value(payment_date) AS payment_date, any_value(customer_id) AS customer_id, "
        "arg_min(payer_name, line) FILTER (WHERE payer_name IS NOT NULL) AS payer_name, "
        "arg_min(payer_account, line) FILTER (WHERE payer_account IS NOT NULL) "
        "AS payer_account, "
        # The fingerprint is the SHA-256 of "PAYER|YYYY-MM-DD|amount|REF1,REF2" with
        # payer and references upper-cased and the references sorted, the same text
        # as writer.payment_fingerprint builds.
        "min(line) AS first_line, sha256(concat_ws('|', upper(trim(any_value(customer_id))), "
        "coalesce(CAST(any_value(payment_date) AS VARCHAR), ''), "
        "CAST(any_value(payment_amount) AS VARCHAR), "
        "array_to_string(list_sort(list(upper(trim(invoice_reference)))), ','))) AS fingerprint "
        "FROM ingest_remittance_rows "
        "WHERE payment_id NOT IN (SELECT payment_id FROM ingest_remittance_conflicts) "
        "GROUP BY payment_id"
    )


def _skip_resent_payments(con: duckdb.DuckDBPyConnection, context: FileContext) -> None:
    """Leave out payments whose fingerprint was already loaded from another file."""
    con.execute("DROP TABLE IF EXISTS ingest_remittance_resent")
    con.execute(
        "CREATE TEMP TABLE ingest_remittance_resent AS "
        "SELECT p.payment_id, p.first_line, min(e.payment_id) AS earlier_payment_id, "
        "min(e.source_file) AS earlier_file "
        "FROM ingest_remittance_payments AS p "
        "JOIN raw.payments AS e ON e.fingerprint = p.fingerprint AND e.file_hash <> ? "
        "GROUP BY p.payment_id, p.first_line",
        [context.file_hash],
    )
    inserted = con.execute(
        "INSERT INTO raw.ingest_issues SELECT ?, ?, 'line ' || first_line, "
        "format('probable duplicate: payment {} has the same payer, date, amount and "
        "references as payment {} of {}, so it is not loaded again', "
        "payment_id, earlier_payment_id, earlier_file), 'warning', ?, ? "
        # A new version of the same file repeats its payments: no warning then.
        "FROM ingest_remittance_resent WHERE earlier_file <> ? ORDER BY first_line",
        [context.file_hash, context.source_file, context.run_id, context.started_at,
         context.source_file],
    ).fetchone()
    context.issue_count += inserted[0] if inserted else 0
    con.execute(
        "DELETE FROM ingest_remittance_payments "
        "WHERE payment_id IN (SELECT payment_id FROM ingest_remittance_resent)"
    )


def _insert_records(con: duckdb.DuckDBPyConnection, context: FileContext) -> None:
    lineage = [context.source_file, context.file_hash]
    payments = con.execute(
        "INSERT INTO raw.payments BY NAME SELECT payment_id, payment_amount, currency, "
        "payment_date, customer_id, payer_name, payer_account, false AS is_reversal, "
        "'csv' AS source_format, fingerprint, ? AS source_file, ? AS file_hash, "
        "'line ' || first_line AS source_position "
        "FROM ingest_remittance_payments ORDER BY first_line",
        lineage,
    ).fetchone()[0]
    total = con.execute(
        "SELECT coalesce(sum(payment_amount), 0) FROM ingest_remittance_payments"
    ).fetchone()[0]
    con.execute("DROP TABLE IF EXISTS ingest_remittance_loaded")
    con.execute(
        "CREATE TEMP TABLE ingest_remittance_loaded AS SELECT r.*, "
        "CASE WHEN NOT r.is_payment_level THEN coalesce(r.csv_line_number, "
        "CAST(row_number() OVER (PARTITION BY r.payment_id, r.is_payment_level "
        "ORDER BY r.line) AS INTEGER)) END AS remittance_line_number "
        "FROM ingest_remittance_rows AS r "
        "WHERE r.payment_id IN (SELECT payment_id FROM ingest_remittance_payments)"
    )
    lines = con.execute(
        "INSERT INTO raw.remittance_lines BY NAME SELECT payment_id, "
        "remittance_line_number AS line_number, invoice_reference, paid_amount, "
        "is_partial, 'csv' AS source_format, ? AS source_file, ? AS file_hash, "
        "'line ' || line AS source_position FROM ingest_remittance_loaded "
        "WHERE NOT is_payment_level",
        lineage,
    ).fetchone()[0]
    adjustments = con.execute(
        "INSERT INTO raw.adjustments BY NAME SELECT payment_id, "
        "CAST(row_number() OVER (PARTITION BY payment_id ORDER BY line) AS INTEGER) "
        "AS adjustment_number, adjustment_amount AS amount, "
        "remittance_line_number AS line_number, adjustment_reason_code AS reason_code, "
        "adjustment_memo AS memo, 'csv' AS source_format, ? AS source_file, ? AS file_hash, "
        "'line ' || line AS source_position FROM ingest_remittance_loaded "
        "WHERE adjustment_amount <> 0",
        lineage,
    ).fetchone()[0]
    con.execute("DROP TABLE IF EXISTS ingest_remittance_loaded")
    context.add_rows("payments", payments)
    context.add_rows("remittance_lines", lines)
    context.add_rows("adjustments", adjustments)
    context.payment_amount += Decimal(total)
