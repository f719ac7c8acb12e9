-- One row per trade-promotion deduction and the promotion that covers it,
-- with how much of the promotion's cap earlier deductions already used.
-- The promotion named in the customer's memo or reference wins; otherwise a
-- deduction is covered only when exactly one promotion is active.

{{ config(materialized='table') }}

with

deductions as (
    select * from {{ ref('int_deductions_classified') }}
    where category = 'trade_promotion'
),

payments as (
    select payment_id, file_hash, payment_date from {{ ref('int_payments_resolved') }}
),

invoices as (
    select invoice_id, customer_id, invoice_date from {{ ref('int_invoices_prepared') }}
),

invoice_skus as (
    select distinct invoice_id, sku from {{ ref('int_invoice_line_evidence') }}
    where invoice_id in (select invoice_id from deductions)
),

customers as (
    select customer_id, parent_customer_id from {{ ref('stg_customers') }}
),

promotions as (
    select * from {{ ref('stg_promotions') }}
),

dated as (
    select
        deductions.deduction_id,
        deductions.customer_id,
        deductions.invoice_id,
        deductions.deduction_amount,
        coalesce(invoices.invoice_date, payments.payment_date) as evidence_date,
        payments.payment_date,
        upper(
            coalesce(deductions.customer_memo, '') || ' '
            || coalesce(deductions.adjustment_reference, '')
        ) as customer_text
    from deductions
    inner join payments
        on deductions.payment_id = payments.payment_id
        and deductions.file_hash = payments.file_hash
    left join invoices
        on deductions.invoice_id = invoices.invoice_id
        and deductions.customer_id = invoices.customer_id
),

-- A deduction may use the promotions of its customer and of that
-- customer's parent. Two equality joins, not one join on either customer,
-- so the join can be hashed.
covering_customers as (
    select deduction_id, customer_id as promotion_customer_id from dated
    union
    select dated.deduction_id, customers.parent_customer_id
    from dated
    inner join customers on dated.customer_id = customers.customer_id
    where customers.parent_customer_id is not null
),

candidates as (
    select
        dated.*,
        promotions.promotion_id,
        promotions.amount_cap,
        strpos(dated.customer_text, upper(promotions.promotion_id)) > 0
            as is_named
    from dated
    inner join covering_customers
        on dated.deduction_id = covering_customers.deduction_id
    inner join promotions
        on promotions.customer_id = covering_customers.promotion_customer_id
        and dated.evidence_date between promotions.start_date and promotions.end_date
    left join invoice_skus
        on dated.invoice_id = invoice_skus.invoice_id
        and promotions.sku = invoice_skus.sku
    where promotions.sku is null or invoice_skus.sku is not null
),

counted as (
    select
        candidates.*,
        sum(case when is_named then 1 else 0 end) over (
            partition by deduction_id
        ) as named_count,
        count(*) over (partition by deduction_id) as candidate_count
    from candidates
),

chosen as (
    select *
    from counted
    where (named_count = 1 and is_named)
        or (named_count = 0 and candidate_count = 1)
),

final as (
    select
        deduction_id,
        promotion_id,
        amount_cap,
        deduction_amount,
        cast(
            coalesce(
                sum(deduction_amount) over (
                    partition by promotion_id
                    order by payment_date, deduction_id
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ) as decimal(18, 2)
        ) as cap_used_before_amount
    from chosen
)

select * from final
