-- One row per remittance line of a posted payment, with its payment's
-- customer, a normalised reference and the amounts the line explains.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('payment_id', 'int_payment_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_payment_scope') }}

with

lines as (
    select * from {{ ref('stg_remittance_lines') }}
    where {{ in_build_scope('payment_id', 'int_payment_scope') }}
),

payments as (
    select * from {{ ref('int_payments_resolved') }}
    where {{ in_build_scope('payment_id', 'int_payment_scope') }}
),

adjustments as (
    select * from {{ ref('stg_adjustments') }}
    where {{ in_build_scope('payment_id', 'int_payment_scope') }}
),

-- A payment that arrives with no remittance lines (a bank receipt) gets
-- one line for its whole amount, so it can still be matched by amount.
lineless_payments as (
    select
        payments.payment_id,
        0 as line_number,
        payments.file_hash,
        cast(null as varchar) as invoice_reference,
        cast(null as varchar) as reference_qualifier,
        payments.payment_amount as paid_amount,
        cast(null as decimal(18, 2)) as invoice_amount,
        cast(0 as decimal(18, 2)) as discount_amount,
        cast(null as varchar) as po_number,
        cast(null as varchar) as other_references,
        cast(null as integer) as invoice_line_number,
        false as is_partial,
        cast(null as varchar) as memo,
        payments.source_format,
        payments.source_file,
        payments.source_position
    from payments
    left join lines
        on payments.payment_id = lines.payment_id
        and payments.file_hash = lines.file_hash
    where lines.payment_id is null
        and not payments.is_reversal
),

all_lines as (
    select
        payment_id, line_number, file_hash, invoice_reference, reference_qualifier,
        paid_amount, invoice_amount, discount_amount, po_number, other_references,
        invoice_line_number, is_partial, memo, source_format, source_file,
        source_position
    from lines
    union all
    select * from lineless_payments
),

line_adjustments as (
    select
        payment_id,
        file_hash,
        line_number,
        sum(
            case when adjustment_amount > 0 then adjustment_amount else 0 end
        ) as withheld_amount,
        count(*) as adjustment_count
    from adjustments
    where line_number is not null
    group by payment_id, file_hash, line_number
),

prepared as (
    select
        lines.payment_id,
        lines.line_number,
        lines.file_hash,
        payments.resolved_customer_id as payer_customer_id,
        payments.customer_resolution,
        payments.payment_date,
        payments.currency as payment_currency,
        payments.is_reversal or payments.is_reversed as is_void,
        lines.invoice_reference,
        lines.reference_qualifier,
        lines.po_number,
        lines.other_references,
        lines.paid_amount,
        lines.invoice_amount,
        lines.discount_amount,
        cast(coalesce(line_adjustments.withheld_amount, 0) as decimal(18, 2))
            as withheld_amount,
        coalesce(line_adjustments.adjustment_count, 0) as adjustment_count,
        lines.is_partial,
        lines.memo,
        lines.source_file,
        lines.source_position,
        {{ strip_reference_prefix(alnum_upper('lines.invoice_reference')) }}
            as reference_key
    from all_lines as lines
    inner join payments
        on lines.payment_id = payments.payment_id
        and lines.file_hash = payments.file_hash
    left join line_adjustments
        on lines.payment_id = line_adjustments.payment_id
        and lines.file_hash = line_adjustments.file_hash
        and lines.line_number = line_adjustments.line_number
),

final as (
    select
        prepared.*,
        -- The invoice's worth before deductions, as the customer states it:
        -- the remittance's own invoice amount, else paid plus discount plus
        -- withheld amounts.
        cast(
            coalesce(invoice_amount, paid_amount + discount_amount + withheld_amount)
            as decimal(18, 2)
        ) as gross_amount
    from prepared
)

select * from final
