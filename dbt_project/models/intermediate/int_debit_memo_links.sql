-- One row per deduction that a customer's debit memo line (X12 812 CDD)
-- claims: the memo line on the same invoice, preferring one of the same
-- amount, and each memo line linked to one deduction at most.

{{ config(materialized='view') }}

with

memos as (
    select * from {{ ref('stg_debit_memos') }}
    where memo_amount > 0 and invoice_reference is not null
),

customers as (
    select customer_id, upper(trim(customer_name)) as name_key
    from {{ ref('stg_customers') }}
),

invoices as (
    select invoice_id, customer_id, invoice_key from {{ ref('int_invoices_prepared') }}
),

deductions as (
    select deduction_id, invoice_id, customer_id, deduction_amount, payment_id
    from {{ ref('int_deductions') }}
    where invoice_id is not null
),

memo_customers as (
    select
        memos.*,
        coalesce(named.customer_id, by_id.customer_id, by_name.customer_id)
            as resolved_customer_id,
        {{ strip_reference_prefix(alnum_upper('memos.invoice_reference')) }}
            as reference_key
    from memos
    left join customers as named on memos.customer_id = named.customer_id
    left join customers as by_id on memos.payer_id = by_id.customer_id
    left join customers as by_name on upper(trim(memos.payer_name)) = by_name.name_key
),

candidates as (
    select
        deductions.deduction_id,
        memo_customers.memo_id,
        memo_customers.memo_line_number,
        memo_customers.reason_code as memo_reason_code,
        memo_customers.customer_memo as debit_memo_text,
        row_number() over (
            partition by deductions.deduction_id
            order by
                case
                    when memo_customers.memo_amount = deductions.deduction_amount
                        then 0
                    else 1
                end,
                memo_customers.memo_date,
                memo_customers.memo_id,
                memo_customers.memo_line_number,
                memo_customers.source_file,
                memo_customers.source_position
        ) as memo_rank
    from memo_customers
    inner join invoices
        on memo_customers.reference_key = invoices.invoice_key
        and (
            memo_customers.resolved_customer_id is null
            or memo_customers.resolved_customer_id = invoices.customer_id
        )
    inner join deductions
        on invoices.invoice_id = deductions.invoice_id
        and invoices.customer_id = deductions.customer_id
),

best_per_deduction as (
    select
        candidates.*,
        row_number() over (
            partition by memo_id, memo_line_number
            order by deduction_id
        ) as deduction_rank
    from candidates
    where memo_rank = 1
),

final as (
    select
        deduction_id,
        memo_id as debit_memo_id,
        memo_line_number as debit_memo_line_number,
        memo_reason_code,
        debit_memo_text
    from best_per_deduction
    where deduction_rank = 1
)

select * from final
