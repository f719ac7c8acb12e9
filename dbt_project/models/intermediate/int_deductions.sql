-- One row per deduction: those found on the remittance lines and at
-- payment level, plus the unidentified gap of a payment whose lines claim
-- more than it carries.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('payment_id', 'int_balance_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_balance_scope') }}

with

detected as (
    select * from {{ ref('int_deductions_detected') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

balances as (
    select * from {{ ref('int_payment_balances') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

payments as (
    select payment_id, file_hash, source_file, source_position
    from {{ ref('int_payments_resolved') }}
),

variances as (
    select
        {{ stable_id('DED', [
            'balances.payment_id', "'P'", "'remittance_variance'", "'-'"
        ]) }} as deduction_id,
        balances.payment_id,
        balances.file_hash,
        cast(null as integer) as line_number,
        cast(null as integer) as adjustment_number,
        'remittance_variance' as deduction_source,
        cast(null as varchar) as invoice_id,
        balances.customer_id,
        cast(null as integer) as invoice_line_number,
        balances.remittance_variance_amount as deduction_amount,
        cast(null as varchar) as reason_code,
        cast(null as varchar) as adjustment_reference,
        cast(null as varchar) as customer_memo,
        payments.source_file,
        payments.source_position
    from balances
    inner join payments
        on balances.payment_id = payments.payment_id
        and balances.file_hash = payments.file_hash
    where balances.remittance_variance_amount > 0
),

final as (
    select * from detected
    union all
    select * from variances
)

select * from final
