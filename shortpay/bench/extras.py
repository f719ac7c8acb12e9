"""Special payments added after the regular ones: payment-level deductions,
overpayments and payments that match no invoice.

They go only to customers that remit by CSV, so each special case sits in
one format and is easy to find in the files.
"""

from __future__ import annotations

import duckdb

from shortpay.bench.profiles import Profile

ADD_COLUMNS = [
    "alter table remittance_lines add column overpaid_amount decimal(18, 2)",
    "alter table remittance_lines add column edi_file varchar",
]

PAYMENT_LEVEL = """
insert into remittance_lines (
    payment_id, line_number, customer_id, payer_name, payment_date, is_edi,
    paid_amount, category, reason_code, deduction_amount, valid_amount,
    invalid_amount, validity, adjustment_memo, row_kind
)
with candidates as (
    select
        r.payment_id,
        max(r.line_number) as last_line,
        any_value(r.customer_id) as customer_id,
        any_value(r.payer_name) as payer_name,
        any_value(r.payment_date) as payment_date,
        row_number() over (order by r.payment_id) as candidate_number
    from remittance_lines as r
    where not r.is_edi
    group by r.payment_id
    having count(*) >= 2 and count(r.category) = 0 and sum(r.paid_amount) > 500
)

select
    payment_id,
    last_line + 1,
    customer_id,
    payer_name,
    payment_date,
    false,
    -(50 + 25 * candidate_number)::decimal(18, 2),
    'freight',
    '54',
    (50 + 25 * candidate_number)::decimal(18, 2),
    0.00,
    0.00,
    'needs_review',
    'FREIGHT ALLOWANCE',
    'payment_level'
from candidates
where candidate_number <= ?
"""

OVERPAYMENT = """
update remittance_lines
set
    overpaid_amount = 25.00,
    paid_amount = paid_amount + 25.00,
    row_kind = 'overpayment'
where payment_id in (
    select r.payment_id
    from remittance_lines as r
    where not r.is_edi
    group by r.payment_id
    having count(*) = 1 and count(r.category) = 0
    order by r.payment_id desc
    limit ?
)
"""

UNMATCHED = """
insert into remittance_lines (
    payment_id, line_number, customer_id, payer_name, payment_date, is_edi,
    invoice_reference, paid_amount, row_kind
)
with numbered as (
    select
        n,
        next_payment_number() - 1 + n as payment_number,
        c.customer_id,
        c.name as payer_name,
        getvariable('first_invoice_date')::date
            + (20 + pick('unmatched_date', n, 70))::integer as payment_date,
        -- an odd number of cents from 1,000.00 to 9,999.99
        (100000 + pick('unmatched_amount', n, 899999))::decimal(18, 0) * 0.01 as amount
    from range(1, ? + 1) as t (n)
    inner join customers as c
        on c.i = (select min(i) from customers where not is_edi) + n
)

select
    'PMT' || lpad(payment_number::varchar, 7, '0'),
    1,
    customer_id,
    payer_name,
    payment_date,
    false,
    'REF-88' || lpad(pick('unmatched_reference', n, 1000000)::varchar, 6, '0'),
    amount::decimal(18, 2),
    'unmatched'
from numbered
"""

# An unmatched amount must equal no invoice total and no other payment.
UNMATCHED_CLASHES = """
select r.payment_id
from remittance_lines as r
where r.row_kind = 'unmatched'
  and (
    r.paid_amount in (select total_amount from invoice_totals)
    or r.paid_amount in (
        select sum(o.paid_amount) from remittance_lines as o
        where o.row_kind <> 'unmatched' group by o.payment_id
    )
  )
"""

# Remittance CSV files are weekly, named by the Monday of the week, or by the
# first invoice date for the week that starts before it.
WEEK_FILE_DATE = """
create or replace macro week_file_date(day) as
    greatest(date_trunc('week', day), getvariable('first_invoice_date')::date)
"""

NEXT_PAYMENT_NUMBER = """
create or replace macro next_payment_number() as (
    select coalesce(max(substr(payment_id, 4)::bigint), 0) + 1 from remittance_lines
)
"""

# Hostile data: the rest of each partial payment arrives two weeks later in
# a payment of its own.
PARTIAL_REST = """
insert into remittance_lines (
    payment_id, line_number, customer_id, payer_name, payment_date, is_edi, invoice_id,
    invoice_index, invoice_reference, invoice_amount, payment_terms, paid_amount,
    adjustment_memo, row_kind
)
select
    'PMT' || lpad(
        (next_payment_number() - 1 + row_number() over (order by r.payment_id, r.line_number))
            ::varchar, 7, '0'),
    1,
    r.customer_id,
    r.payer_name,
    least(r.payment_date + 14, getvariable('as_of')::date),
    r.is_edi,
    r.invoice_id,
    r.invoice_index,
    r.invoice_reference,
    r.invoice_amount,
    r.payment_terms,
    r.invoice_amount - r.paid_amount,
    'PARTIAL PAYMENT',
    'partial'
from remittance_lines as r
where r.row_kind = 'partial'
"""

# Hostile data: a returned payment comes back as a payment with negative amounts.
REVERSALS = """
insert into remittance_lines (
    payment_id, line_number, customer_id, payer_name, payment_date, is_edi, invoice_id,
    invoice_index, invoice_reference, invoice_amount, payment_terms, paid_amount,
    adjustment_memo, row_kind
)
with reversed as (
    select
        payment_id,
        next_payment_number() - 1 + row_number() over (order by payment_id) as payment_number
    from remittance_lines
    where not is_edi
    group by payment_id
    having bool_and(row_kind = 'invoice') and count(category) = 0
        and rnd('reversal', min(invoice_index)) < getvariable('reversal_rate')
)

select
    'PMT' || lpad(v.payment_number::varchar, 7, '0'),
    r.line_number,
    r.customer_id,
    r.payer_name,
    least(r.payment_date + 7, getvariable('as_of')::date),
    false,
    r.invoice_id,
    r.invoice_index,
    r.invoice_reference,
    r.invoice_amount,
    r.payment_terms,
    -r.paid_amount,
    'REVERSAL OF ' || r.payment_id,
    'reversal'
from remittance_lines as r
inner join reversed as v on r.payment_id = v.payment_id
"""

# Hostile data: payments sent again in the next week's file, same id and rows.
DUPLICATES = """
create or replace table duplicate_payments as
select payment_id
from remittance_lines
where not is_edi
group by payment_id
having bool_and(row_kind in ('invoice', 'partial'))
    and rnd('duplicate', min(invoice_index)) < getvariable('duplicate_payment_rate')
    and max(payment_date) + 7 <= getvariable('as_of')::date
"""

EDI_FILES = """
update remittance_lines as r
set edi_file = 'remit_' || r.customer_id || '_' || (
    case when e.edi_rank = 1 and r.payment_date >= date '2026-10-20' then 2 else 1 end
)::varchar || '.820'
from (
    select customer_id, dense_rank() over (order by customer_id) as edi_rank
    from customers
    where is_edi
) as e
where r.customer_id = e.customer_id and r.is_edi
"""

PAYMENT_TOTALS = """
create or replace table payment_totals as
select
    payment_id,
    any_value(customer_id) as customer_id,
    any_value(payer_name) as payer_name,
    any_value(payment_date) as payment_date,
    sum(paid_amount)::decimal(18, 2) as payment_amount,
    count(*) as line_count,
    case when bool_or(edi_file is not null) then 'x12_820' else 'csv' end as source_format,
    coalesce(
        any_value(edi_file),
        'remittances_' || strftime(week_file_date(any_value(payment_date)), '%Y-%m-%d')
            || '.csv'
    ) as source_file
from remittance_lines
group by payment_id
"""


def add_special_rows(conn: duckdb.DuckDBPyConnection, spec: Profile) -> None:
    """Add the special payments of ``spec`` and the per-payment totals table."""
    for statement in ADD_COLUMNS:
        conn.execute(statement)
    conn.execute(NEXT_PAYMENT_NUMBER)
    conn.execute(WEEK_FILE_DATE)
    conn.execute(PAYMENT_LEVEL, [spec.payment_level_deductions])
    conn.execute(OVERPAYMENT, [spec.overpayments])
    conn.execute(UNMATCHED, [spec.unmatched_payments])
    # Move a clashing unmatched amount by a cent until it matches nothing.
    for _ in range(100):
        clashes = conn.execute(UNMATCHED_CLASHES).fetchall()
        if not clashes:
            break
        conn.execute(
            "update remittance_lines set paid_amount = paid_amount + 0.01 "
            "where payment_id = ? and row_kind = 'unmatched'",
            [clashes[0][0]],
        )
    conn.execute(PARTIAL_REST)
    conn.execute(REVERSALS)
    conn.execute(DUPLICATES)
    conn.execute(EDI_FILES)
    conn.execute(PAYMENT_TOTALS)
