"""A small work database with the schemas of the marts and staging views, for the quality tests."""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_SQL = """
create schema if not exists raw;
create schema if not exists marts;
create schema if not exists staging;
create schema if not exists intermediate;
create table marts.fct_deductions (
    deduction_id varchar, payment_id varchar, customer_id varchar, invoice_id varchar,
    invoice_line_number integer, deduction_amount decimal(18, 2), currency varchar,
    customer_reason_code varchar, category varchar, validity varchar,
    valid_amount decimal(18, 2), invalid_amount decimal(18, 2), validity_reason varchar,
    evidence_reference varchar, status varchar, opened_date date, days_outstanding integer,
    rule_id varchar, deadline_date date, owner varchar, team varchar, customer_memo varchar,
    adjustment_reference varchar, payment_date date, source_file varchar
);
create table marts.fct_payments (
    payment_id varchar, customer_id varchar, payment_date date,
    payment_amount decimal(18, 2), currency varchar, source_format varchar,
    source_file varchar, applied_amount decimal(18, 2), unapplied_amount decimal(18, 2),
    payment_level_deduction_amount decimal(18, 2), is_reversal boolean default false,
    reverses_payment_id varchar
);
create table marts.fct_invoices (
    invoice_id varchar, customer_id varchar, invoice_date date, due_date date,
    po_number varchar, currency varchar, total_amount decimal(18, 2), payment_terms varchar,
    applied_amount decimal(18, 2), discount_amount decimal(18, 2),
    deducted_amount decimal(18, 2), open_amount decimal(18, 2)
);
create table marts.dim_customers (
    customer_id varchar, customer_name varchar, parent_customer_id varchar,
    ar_contact_email varchar, ar_contact_name varchar, country varchar,
    reason_code_set varchar
);
create table intermediate.int_invoices_prepared (
    invoice_id varchar, customer_id varchar, invoice_date date, due_date date,
    total_amount decimal(18, 2)
);
"""

CLEAN_ROWS_SQL = """
insert into marts.fct_deductions
    (deduction_id, payment_id, customer_id, invoice_id, deduction_amount, category,
     validity, valid_amount, invalid_amount, status, days_outstanding, owner)
values
    ('D1', 'P1', 'C1', 'I1', 120.00, 'shortage', 'valid', 120.00, 0.00, 'open', 4, 'ana'),
    ('D2', 'P1', 'C1', 'I2', 80.50, 'pricing', 'invalid', 30.50, 50.00, 'disputed', 4, 'ana'),
    ('D3', 'P2', 'C2', null, 15.00, 'unidentified', 'needs_review', 0.00, 0.00, 'open', 1, 'ben');
insert into marts.fct_payments
    (payment_id, customer_id, payment_date, payment_amount, applied_amount, unapplied_amount)
values
    ('P1', 'C1', date '2026-11-30', 900.00, 900.00, 0.00),
    ('P2', 'C2', date '2026-12-01', 100.00, 85.00, 15.00);
insert into marts.fct_invoices
    (invoice_id, customer_id, invoice_date, due_date, total_amount, applied_amount)
values
    ('I1', 'C1', date '2026-10-01', date '2026-10-31', 600.00, 480.00),
    ('I2', 'C1', date '2026-10-02', date '2026-11-01', 500.50, 420.00);
insert into marts.dim_customers (customer_id, customer_name, ar_contact_email)
values ('C1', 'Northwind Foods', 'ar@northwind.example'),
       ('C2', 'Contoso Retail', 'payables@contoso.example');
insert into intermediate.int_invoices_prepared (invoice_id, customer_id, invoice_date, due_date, total_amount)
values ('I1', 'C1', date '2026-10-01', date '2026-10-31', 600.00),
       ('I2', 'C1', date '2026-10-02', date '2026-11-01', 500.50);
"""


def build_work_db(path: Path, extra_sql: str = "") -> Path:
    """Create a work database with clean rows, then run ``extra_sql`` on it."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute(SCHEMA_SQL)
        connection.execute(CLEAN_ROWS_SQL)
        if extra_sql:
            connection.execute(extra_sql)
    finally:
        connection.close()
    return path
