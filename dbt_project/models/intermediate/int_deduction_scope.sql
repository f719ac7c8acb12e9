-- The deductions whose validity an incremental build decides again. These
-- are the deductions of the payments of int_balance_scope and every
-- deduction on an invoice that int_allocation_scope or those deductions
-- name. They also include every deduction whose debit memo line, reason
-- code or promotion changed, with the other deductions on its invoice.
-- A memo line and a promotion's cap are shared among deductions, and
-- deductions on one invoice share its delivery and price evidence, so each
-- of these reaches past its own payment. Each row names a deduction and
-- its invoice, so a deduction whose invoice changed has two rows. A full
-- build leaves this table empty.

-- depends_on: {{ ref('int_balance_scope') }}
-- depends_on: {{ ref('int_allocation_scope') }}
-- depends_on: {{ ref('int_deductions') }}
-- depends_on: {{ ref('int_debit_memo_links') }}
-- depends_on: {{ ref('int_promotion_usage') }}

with

{% if incremental_build() %}

rebuilt_payments as (
    select payment_id from {{ ref('int_balance_scope') }}
),

-- What int_deductions_validated decided in the last build. This model runs
-- before that table is rebuilt.
previous as (
    select
        deduction_id,
        payment_id,
        invoice_id,
        debit_memo_id,
        debit_memo_line_number,
        effective_reason_code,
        promotion_id,
        promotion_cap_amount,
        cap_used_before_amount
    from {{ previous_build('int_deductions_validated') }}
),

current_deductions as (
    select
        deductions.deduction_id,
        deductions.payment_id,
        deductions.invoice_id,
        memo_links.debit_memo_id,
        memo_links.debit_memo_line_number,
        coalesce(deductions.reason_code, memo_links.memo_reason_code)
            as effective_reason_code,
        promotion_usage.promotion_id,
        promotion_usage.amount_cap as promotion_cap_amount,
        promotion_usage.cap_used_before_amount
    from {{ ref('int_deductions') }} as deductions
    left join {{ ref('int_debit_memo_links') }} as memo_links
        on deductions.deduction_id = memo_links.deduction_id
    left join {{ ref('int_promotion_usage') }} as promotion_usage
        on deductions.deduction_id = promotion_usage.deduction_id
),

-- Deductions that are new or gone, or whose memo line, reason or promotion
-- differs from the last build.
relinked as (
    select current_deductions.deduction_id, current_deductions.invoice_id
    from current_deductions
    left join previous on current_deductions.deduction_id = previous.deduction_id
    where previous.deduction_id is null
        or current_deductions.debit_memo_id is distinct from previous.debit_memo_id
        or current_deductions.debit_memo_line_number
        is distinct from previous.debit_memo_line_number
        or current_deductions.effective_reason_code
        is distinct from previous.effective_reason_code
        or current_deductions.promotion_id is distinct from previous.promotion_id
        or current_deductions.promotion_cap_amount
        is distinct from previous.promotion_cap_amount
        or current_deductions.cap_used_before_amount
        is distinct from previous.cap_used_before_amount
    union
    select previous.deduction_id, previous.invoice_id
    from previous
    left join current_deductions
        on previous.deduction_id = current_deductions.deduction_id
    where current_deductions.deduction_id is null
),

rebuilt_invoices as (
    select invoice_id from {{ ref('int_allocation_scope') }}
    union
    select invoice_id from current_deductions
    where payment_id in (select payment_id from rebuilt_payments)
    union
    select invoice_id from previous
    where payment_id in (select payment_id from rebuilt_payments)
    union
    select invoice_id from relinked
),

-- Each deduction with its invoice, as now and as in the last build, so
-- that the invoice marts know which invoices' deductions changed.
final as (
    select deduction_id, invoice_id from current_deductions
    where payment_id in (select payment_id from rebuilt_payments)
        or invoice_id in (select invoice_id from rebuilt_invoices)
    union
    select deduction_id, invoice_id from previous
    where payment_id in (select payment_id from rebuilt_payments)
        or invoice_id in (select invoice_id from rebuilt_invoices)
    union
    select deduction_id, invoice_id from relinked
)

{% else %}

{{ empty_scope(['deduction_id', 'invoice_id']) }}

{% endif %}

select * from final
