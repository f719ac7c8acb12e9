-- One row per customer payment, with what was applied to invoices, what
-- stays unapplied and what the customer deducted at payment level.
-- payment_amount = applied_amount + unapplied_amount
--                  - payment_level_deduction_amount.
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

balances as (
    select * from {{ ref('int_payment_balances') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

final as (
    select
        payments.payment_id,
        payments.resolved_customer_id as customer_id,
        payments.payment_date,
        payments.payment_amount,
        payments.currency,
        payments.source_format,
        payments.source_file,
        payments.source_position,
        payments.file_hash,
        payments.payer_id,
        payments.payer_name,
        payments.payer_account,
        payments.payment_method,
        payments.trace_number,
        payments.is_reversal,
        payments.is_reversed,
        payments.reversed_by_payment_id,
        payments.reverses_payment_id,
        payments.customer_resolution,
        balances.applied_amount,
        balances.unapplied_amount,
        cast(
            balances.detected_payment_level_deduction_amount
            + balances.remittance_variance_amount
            as decimal(18, 2)
        ) as payment_level_deduction_amount,
        balances.stated_amount as remittance_stated_amount,
        balances.line_count as remittance_line_count
    from payments
    inner join balances
        on payments.payment_id = balances.payment_id
        and payments.file_hash = balances.file_hash
)

select * from final
