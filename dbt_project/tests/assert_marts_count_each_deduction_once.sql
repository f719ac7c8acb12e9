-- The aging mart and the invoice balances count each deduction once: their
-- totals equal the sums over fct_deductions.
with

deductions as (
    select
        sum(deduction_amount) as total_amount,
        sum(case when invoice_id is not null then deduction_amount else 0 end)
            as invoice_amount
    from {{ ref('fct_deductions') }}
),

aging as (
    select sum(deduction_amount) as total_amount from {{ ref('rpt_deductions_aging') }}
),

invoices as (
    select sum(discount_amount + deducted_amount) as invoice_amount
    from {{ ref('fct_invoices') }}
)

select
    deductions.total_amount,
    aging.total_amount as aging_total_amount,
    deductions.invoice_amount,
    invoices.invoice_amount as invoices_deducted_amount
from deductions
cross join aging
cross join invoices
where coalesce(deductions.total_amount, 0) <> coalesce(aging.total_amount, 0)
    or coalesce(deductions.invoice_amount, 0) <> coalesce(invoices.invoice_amount, 0)
