-- One row per posted payment: applied, unapplied and payment-level
-- deduction amounts, and the total its remittance states. When the lines
-- claim more than the payment carries, the gap becomes an unidentified
-- payment-level deduction (remittance_variance_amount) rather than being
-- taken off some invoice.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('payment_id', 'int_balance_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_balance_scope') }}

with

payments as (
    select * from {{ ref('int_payments_resolved') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

lines as (
    select * from {{ ref('stg_remittance_lines') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

adjustments as (
    select * from {{ ref('stg_adjustments') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

allocations as (
    select payment_id, file_hash, sum(applied_amount) as applied_amount
    from {{ ref('int_invoice_allocations') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
    group by payment_id, file_hash
),

payment_level_deductions as (
    select payment_id, file_hash, sum(deduction_amount) as deduction_amount
    from {{ ref('int_deductions_detected') }}
    where invoice_id is null
        and {{ in_build_scope('payment_id', 'int_balance_scope') }}
    group by payment_id, file_hash
),

stated_lines as (
    select
        payment_id,
        file_hash,
        sum(paid_amount) as paid_amount,
        count(*) as line_count,
        count(paid_amount) as priced_line_count
    from lines
    group by payment_id, file_hash
),

stated_adjustments as (
    select payment_id, file_hash, sum(adjustment_amount) as adjustment_amount
    from adjustments
    where line_number is null
    group by payment_id, file_hash
),

balances as (
    select
        payments.payment_id,
        payments.file_hash,
        payments.resolved_customer_id as customer_id,
        payments.payment_amount,
        payments.currency,
        payments.is_reversal or payments.is_reversed as is_void,
        case
            when payments.is_reversal or payments.is_reversed then 0
            else coalesce(allocations.applied_amount, 0)
        end as applied_amount,
        case
            when payments.is_reversal or payments.is_reversed then 0
            else coalesce(payment_level_deductions.deduction_amount, 0)
        end as payment_level_deduction_amount,
        stated_lines.line_count,
        -- The remittance states a total only when every line has a paid amount.
        case
            when stated_lines.line_count = stated_lines.priced_line_count
                then stated_lines.paid_amount
                - coalesce(stated_adjustments.adjustment_amount, 0)
        end as stated_amount
    from payments
    left join allocations
        on payments.payment_id = allocations.payment_id
        and payments.file_hash = allocations.file_hash
    left join payment_level_deductions
        on payments.payment_id = payment_level_deductions.payment_id
        and payments.file_hash = payment_level_deductions.file_hash
    left join stated_lines
        on payments.payment_id = stated_lines.payment_id
        and payments.file_hash = stated_lines.file_hash
    left join stated_adjustments
        on payments.payment_id = stated_adjustments.payment_id
        and payments.file_hash = stated_adjustments.file_hash
),

final as (
    select
        payment_id,
        file_hash,
        customer_id,
        payment_amount,
        currency,
        is_void,
        cast(applied_amount as decimal(18, 2)) as applied_amount,
        cast(
            case
                when is_void then payment_amount
                else greatest(
                    payment_amount - applied_amount
                    + payment_level_deduction_amount,
                    0
                )
            end as decimal(18, 2)
        ) as unapplied_amount,
        cast(
            case
                when is_void then 0
                else greatest(
                    applied_amount - payment_level_deduction_amount
                    - payment_amount,
                    0
                )
            end as decimal(18, 2)
        ) as remittance_variance_amount,
        cast(payment_level_deduction_amount as decimal(18, 2))
            as detected_payment_level_deduction_amount,
        cast(stated_amount as decimal(18, 2)) as stated_amount,
        line_count
    from balances
)

select * from final
