"""Columns of the raw tables that ingest writes and dbt reads.

Every data table ends with the lineage columns ``source_file`` (path relative
to the inbox), ``file_hash`` (SHA-256 of the file's bytes) and
``source_position`` (``line 12``, ``segment 40``, ``record 7``). The record
field ``position`` of records.py is stored as ``source_position``.
"""

from __future__ import annotations

import duckdb

LINEAGE_COLUMNS: list[tuple[str, str]] = [
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("source_position", "VARCHAR"),
]

MONEY = "DECIMAL(18, 2)"
PRICE = "DECIMAL(18, 4)"
QUANTITY = "DECIMAL(18, 4)"
RATE = "DECIMAL(18, 6)"

FILES_COLUMNS: list[tuple[str, str]] = [
    ("file_hash", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("format", "VARCHAR"),
    ("size_bytes", "BIGINT"),
    ("status", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("records_loaded", "BIGINT"),
    ("run_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
]

# The on-disk identity of each inbox file when it was last read, so that a
# later run can skip reading and hashing it again (see loader._known_hash).
FILE_STAT_COLUMNS: list[tuple[str, str]] = [
    ("source_file", "VARCHAR"),
    ("stat_key", "VARCHAR"),
    ("file_hash", "VARCHAR"),
]

ISSUES_COLUMNS: list[tuple[str, str]] = [
    ("file_hash", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_position", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("severity", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("detected_at", "TIMESTAMP"),
]

ERP_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "customers": [
        ("customer_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("parent_customer_id", "VARCHAR"),
        ("ar_contact_email", "VARCHAR"),
        ("ar_contact_name", "VARCHAR"),
        ("country", "VARCHAR"),
        ("reason_code_set", "VARCHAR"),
    ],
    "invoices": [
        ("invoice_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("invoice_date", "DATE"),
        ("due_date", "DATE"),
        ("currency", "VARCHAR"),
        ("total_amount", MONEY),
        ("po_number", "VARCHAR"),
        ("payment_terms", "VARCHAR"),
        ("bill_to_name", "VARCHAR"),
        ("is_disputed", "BOOLEAN"),
    ],
    "invoice_lines": [
        ("invoice_id", "VARCHAR"),
        ("line_number", "INTEGER"),
        ("sku", "VARCHAR"),
        ("quantity", QUANTITY),
        ("unit_price", PRICE),
        ("line_amount", MONEY),
        ("description", "VARCHAR"),
        ("uom", "VARCHAR"),
    ],
    "shipments": [
        ("invoice_id", "VARCHAR"),
        ("line_number", "INTEGER"),
        ("shipped_quantity", QUANTITY),
        ("delivered_quantity", QUANTITY),
        ("delivery_date", "DATE"),
        ("pod_reference", "VARCHAR"),
        ("carrier", "VARCHAR"),
    ],
    "promotions": [
        ("promotion_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("start_date", "DATE"),
        ("end_date", "DATE"),
        ("promotion_type", "VARCHAR"),
        ("amount_cap", MONEY),
        ("sku", "VARCHAR"),
        ("rate_per_unit", RATE),
        ("description", "VARCHAR"),
    ],
    "prices": [
        ("customer_id", "VARCHAR"),
        ("sku", "VARCHAR"),
        ("unit_price", PRICE),
        ("valid_from", "DATE"),
        ("valid_to", "DATE"),
        ("currency", "VARCHAR"),
    ],
}

PAYMENT_COLUMNS: list[tuple[str, str]] = [
    ("payment_id", "VARCHAR"),
    ("payment_amount", MONEY),
    ("currency", "VARCHAR"),
    ("payment_date", "DATE"),
    ("customer_id", "VARCHAR"),
    ("payer_id", "VARCHAR"),
    ("payer_name", "VARCHAR"),
    ("payee_name", "VARCHAR"),
    ("payment_method", "VARCHAR"),
    ("trace_number", "VARCHAR"),
    ("bank_account", "VARCHAR"),
    ("payer_account", "VARCHAR"),
    ("is_reversal", "BOOLEAN"),
    ("value_date", "DATE"),
    ("memo", "VARCHAR"),
    ("source_format", "VARCHAR"),
    ("fingerprint", "VARCHAR"),
]

REMITTANCE_LINE_COLUMNS: list[tuple[str, str]] = [
    ("payment_id", "VARCHAR"),
    ("line_number", "INTEGER"),
    ("invoice_reference", "VARCHAR"),
    ("reference_qualifier", "VARCHAR"),
    ("paid_amount", MONEY),
    ("invoice_amount", MONEY),
    ("discount_amount", MONEY),
    ("po_number", "VARCHAR"),
    ("other_references", "VARCHAR"),
    ("invoice_line_number", "INTEGER"),
    ("is_partial", "BOOLEAN"),
    ("memo", "VARCHAR"),
    ("invoice_date", "DATE"),
    ("other_dates", "VARCHAR"),
    ("source_format", "VARCHAR"),
]

ADJUSTMENT_COLUMNS: list[tuple[str, str]] = [
    ("payment_id", "VARCHAR"),
    ("adjustment_number", "INTEGER"),
    ("amount", MONEY),
    ("line_number", "INTEGER"),
    ("reason_code", "VARCHAR"),
    ("reference", "VARCHAR"),
    ("memo", "VARCHAR"),
    ("invoice_line_number", "INTEGER"),
    ("reference_qualifier", "VARCHAR"),
    ("other_references", "VARCHAR"),
    ("source_format", "VARCHAR"),
]

DEBIT_MEMO_COLUMNS: list[tuple[str, str]] = [
    ("memo_id", "VARCHAR"),
    ("memo_line_number", "INTEGER"),
    ("amount", MONEY),
    ("memo_date", "DATE"),
    ("customer_id", "VARCHAR"),
    ("payer_id", "VARCHAR"),
    ("payer_name", "VARCHAR"),
    ("invoice_reference", "VARCHAR"),
    ("po_number", "VARCHAR"),
    ("reason_code", "VARCHAR"),
    ("memo", "VARCHAR"),
    ("currency", "VARCHAR"),
    ("source_format", "VARCHAR"),
]

REMITTANCE_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "payments": PAYMENT_COLUMNS,
    "remittance_lines": REMITTANCE_LINE_COLUMNS,
    "adjustments": ADJUSTMENT_COLUMNS,
    "debit_memos": DEBIT_MEMO_COLUMNS,
}


def table_columns() -> dict[str, list[tuple[str, str]]]:
    """Return every raw table with its columns in order, lineage included."""
    tables: dict[str, list[tuple[str, str]]] = {
        "files": FILES_COLUMNS,
        "file_stats": FILE_STAT_COLUMNS,
        "ingest_issues": ISSUES_COLUMNS,
    }
    for name, columns in {**ERP_COLUMNS, **REMITTANCE_COLUMNS}.items():
        tables[name] = columns + LINEAGE_COLUMNS
    return tables


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and every raw table that does not exist yet.

    A table made by an earlier version gets the columns added since, empty
    for the rows it already has.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for name, columns in table_columns().items():
        column_sql = ", ".join(f"{column} {sql_type}" for column, sql_type in columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{name} ({column_sql})")
        for column, sql_type in columns:
            con.execute(f"ALTER TABLE raw.{name} ADD COLUMN IF NOT EXISTS {column} {sql_type}")
