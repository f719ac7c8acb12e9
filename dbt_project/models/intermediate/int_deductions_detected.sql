-- One row per deduction found in the remittances, before the payment-level
-- reconciliation: each withheld adjustment (capped at what the invoice still
-- owed), each discount taken, and each unexplained invoice shortfall.
-- Adjustments of lines matched to no invoice, and adjustments outside any
-- line, stay at payment level with no invoice; they are never spread.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('payment_id', 'int_balance_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_balance_scope') }}

with

matches as (
    select * from {{ ref('int_remittance_matches') }}
    where match_status <> 'void'
        and {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

allocations as (
    select * from {{ ref('int_invoice_allocations') }}
    where {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

adjustments as (
    select * from {{ ref('stg_adjustments') }}
    where adjustment_amount > 0
        and {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

payments as (
    select * from {{ ref('int_payments_resolved') }}
    where not (is_reversal or is_reversed)
        and {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

line_adjustments as (
    select
        adjustments.*,
        allocations.invoice_id,
        allocations.invoice_customer_id,
        allocations.withheld_taken_amount,
        coalesce(
            sum(adjustments.adjustment_amount) over (
                partition by adjustments.payment_id, adjustments.file_hash,
                adjustments.line_number
                order by adjustments.adjustment_number
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as withheld_before_amount
    from adjustments
    inner join allocations
        on adjustments.payment_id = allocations.payment_id
        and adjustments.file_hash = allocations.file_hash
        and adjustments.line_number = allocations.line_number
),

invoice_adjustments as (
    select
        payment_id,
        file_hash,
        line_number,
        adjustment_number,
        'adjustment' as deduction_source,
        invoice_id,
        invoice_customer_id as customer_id,
        invoice_line_number,
        cast(
            least(
                adjustment_amount,
                greatest(withheld_taken_amount - withheld_before_amount, 0)
            ) as decimal(18, 2)
        ) as deduction_amount,
        reason_code,
        adjustment_reference,
        customer_memo,
        source_file,
        source_position
    from line_adjustments
),

unmatched_line_adjustments as (
    select
        adjustments.payment_id,
        adjustments.file_hash,
        adjustments.line_number,
        adjustments.adjustment_number,
        'adjustment' as deduction_source,
        cast(null as varchar) as invoice_id,
        matches.payer_customer_id as customer_id,
        adjustments.invoice_line_number,
        adjustments.adjustment_amount as deduction_amount,
        adjustments.reason_code,
        adjustments.adjustment_reference,
        adjustments.customer_memo,
        adjustments.source_file,
        adjustments.source_position
    from adjustments
    inner join matches
        on adjustments.payment_id = matches.payment_id
        and adjustments.file_hash = matches.file_hash
        and adjustments.line_number = matches.line_number
    where matches.match_status <> 'matched'
),

payment_level_adjustments as (
    select
        adjustments.payment_id,
        adjustments.file_hash,
        adjustments.line_number,
        adjustments.adjustment_number,
        'adjustment' as deduction_source,
        cast(null as varchar) as invoice_id,
        payments.resolved_customer_id as customer_id,
        adjustments.invoice_line_number,
        adjustments.adjustment_amount as deduction_amount,
        adjustments.reason_code,
        adjustments.adjustment_reference,
        adjustments.customer_memo,
        adjustments.source_file,
        adjustments.source_position
    from adjustments
    inner join payments
        on adjustments.payment_id = payments.payment_id
        and adjustments.file_hash = payments.file_hash
    where adjustments.line_number is null
),

discounts as (
    select
        payment_id,
        file_hash,
        line_number,
        cast(null as integer) as adjustment_number,
        'discount' as deduction_source,
        invoice_id,
        invoice_customer_id as customer_id,
        cast(null as integer) as invoice_line_number,
        discount_taken_amount as deduction_amount,
        cast(null as varchar) as reason_code,
        cast(null as varchar) as adjustment_reference,
        cast(null as varchar) as customer_memo,
        source_file,
        source_position
    from allocations
    where discount_taken_amount > 0
),

shortfalls as (
    select
        payment_id,
        file_hash,
        line_number,
        cast(null as integer) as adjustment_number,
        'unexplained' as deduction_source,
        invoice_id,
        invoice_customer_id as customer_id,
        cast(null as integer) as invoice_line_number,
        unexplained_amount as deduction_amount,
        cast(null as varchar) as reason_code,
        cast(null as varchar) as adjustment_reference,
        cast(null as varchar) as customer_memo,
        source_file,
        source_position
    from allocations
    where unexplained_amount > 0
),

unioned as (
    select * from invoice_adjustments
    union all
    select * from unmatched_line_adjustments
    union all
    select * from payment_level_adjustments
    union all
    select * from discounts
    union all
    select * from shortfalls
),

final as (
    select
        {{ stable_id('DED', [
            'payment_id',
            "coalesce(cast(line_number as varchar), 'P')",
            'deduction_source',
            "coalesce(cast(adjustment_number as varchar), '-')",
        ]) }} as deduction_id,
        unioned.*
    from unioned
    where deduction_amount > 0
)

select * from final
