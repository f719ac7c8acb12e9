"""A small published warehouse and the review models as plain SQL, for the review tests."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shortpay.settings import DBT_PROJECT_DIR

REVIEW_MODELS_DIR = DBT_PROJECT_DIR / "models" / "intermediate" / "review"

WAREHOUSE_SQL = """
create table fct_deductions (
    deduction_id varchar, payment_id varchar, customer_id varchar, invoice_id varchar,
    invoice_line_number integer, deduction_amount decimal(18, 2), currency varchar,
    customer_reason_code varchar, category varchar, validity varchar,
    valid_amount decimal(18, 2), invalid_amount decimal(18, 2), validity_reason varchar,
    evidence_reference varchar, status varchar, opened_date date, days_outstanding integer,
    rule_id varchar, deadline_date date, owner varchar, team varchar, assignee varchar,
    customer_memo varchar, adjustment_reference varchar, payment_date date, source_file varchar
);
insert into fct_deductions
    (deduction_id, payment_id, customer_id, invoice_id, deduction_amount, category,
     validity, valid_amount, invalid_amount, validity_reason, status, owner, assignee,
     customer_memo)
values
    ('D1', 'P1', 'C1', 'I1', 120.00, 'shortage', 'needs_review', 0.00, 0.00,
     'no proof of delivery yet', 'open', 'ana', 'ana', 'short 3 cases'),
    ('D2', 'P1', 'C1', 'I2', 7500.00, 'pricing', 'invalid', 0.00, 7500.00,
     'price matches the price list', 'open', 'ana', 'ana', e'\\x1b[31mred\\x1b[0m pricing'),
    ('D3', 'P2', 'C2', null, 40.00, 'unidentified', 'needs_review', 0.00, 0.00,
     'no reason code', 'open', 'ben', 'ben', null);
create table fct_payments (
    payment_id varchar, customer_id varchar, payment_date date,
    payment_amount decimal(18, 2), currency varchar, source_format varchar,
    source_file varchar, applied_amount decimal(18, 2), unapplied_amount decimal(18, 2),
    payment_level_deduction_amount decimal(18, 2)
);
insert into fct_payments values
    ('P1', 'C1', date '2026-11-30', 10380.00, 'USD', 'x12_820', 'inbox/p1.820', 10380.00,
     0.00, 0.00),
    ('P2', 'C2', date '2026-12-01', 960.00, 'USD', 'bai2', 'inbox/p2.bai', 960.00, 0.00, 40.00);
create table fct_cash_applications (
    payment_id varchar, invoice_id varchar, applied_amount decimal(18, 2),
    match_method varchar, match_confidence decimal(5, 4)
);
insert into fct_cash_applications values
    ('P1', 'I1', 2880.00, 'invoice_number', 1.0000),
    ('P1', 'I2', 7500.00, 'invoice_number', 1.0000);
create table fct_invoices (
    invoice_id varchar, customer_id varchar, invoice_date date, due_date date,
    po_number varchar, currency varchar, total_amount decimal(18, 2), payment_terms varchar,
    applied_amount decimal(18, 2), discount_amount decimal(18, 2),
    deducted_amount decimal(18, 2), open_amount decimal(18, 2)
);
insert into fct_invoices values
    ('I1', 'C1', date '2026-10-01', date '2026-10-31', 'PO-1', 'USD', 3000.00, 'NET30',
     2880.00, 0.00, 120.00, 0.00),
    ('I2', 'C1', date '2026-10-02', date '2026-11-01', 'PO-2', 'USD', 15000.00, 'NET30',
     7500.00, 0.00, 7500.00, 0.00);
create table exceptions (
    exception_id varchar, exception_type varchar, severity varchar, entity_type varchar,
    entity_id varchar, message varchar, detected_at timestamptz, status varchar,
    owner varchar, amount decimal(18, 2), deduction_id varchar, source_file varchar,
    source_position varchar
);
insert into exceptions values
    ('E1', 'deduction_review', 'warning', 'deduction', 'D1', 'shortage needs proof',
     timestamptz '2026-11-20 10:00:00+00', 'open', 'ana', 120.00, 'D1', 'inbox/p1.820',
     'segment 40'),
    ('E2', 'deduction_review', 'error', 'deduction', 'D2', 'pricing claim is invalid',
     timestamptz '2026-12-03 09:00:00+00', 'open', 'ana', 7500.00, 'D2', 'inbox/p1.820',
     'segment 52'),
    ('E3', 'dq_failure', 'warning', 'customer', 'C2', 'ar_contact_email is not an address',
     timestamptz '2026-12-01 08:00:00+00', 'open', null, null, null, null, null);
"""


def build_warehouse(path: Path) -> Path:
    """Write a published warehouse file with the public tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    try:
        connection.execute(WAREHOUSE_SQL)
    finally:
        connection.close()
    return path


def render_model(name: str) -> str:
    """Return a review model's SQL with its dbt source replaced by the raw table name."""
    sql = (REVIEW_MODELS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return sql.replace("{{ source('raw', 'decision_log') }}", "raw.decision_log")
