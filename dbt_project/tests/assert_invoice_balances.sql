-- Every invoice balances: total_amount = applied_amount + discount_amount
-- + deducted_amount + open_amount, and no invoice is settled below zero.
select
    invoice_id,
    customer_id,
    total_amount,
    applied_amount,
    discount_amount,
    deducted_amount,
    open_amount
from {{ ref('fct_invoices') }}
where total_amount
    <> applied_amount + discount_amount + deducted_amount + open_amount
    or open_amount < 0
