-- One row per remittance line of a posted payment, with its payment's
-- customer, a normalised reference and the amounts the line explains.
with

lines as (
    select * from {{ ref('stg_remittance_lines') }}
),

payments as (
    select * from {{ ref('int_payments_resolved') }}
),

adjustments as (
    select * from {{ ref('stg_adjustments') }}
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
        coalesce(line_adjustments.withheld_amount, 0) as withheld_amount,
        coalesce(line_adjustments.adjustment_count, 0) as adjustment_count,
        lines.is_partial,
        lines.memo,
        lines.source_file,
        lines.source_position,
        {{ strip_reference_prefix(alnum_upper('lines.invoice_reference')) }}
            as reference_key
    from lines
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
        -- What the customer says the invoice was worth before deductions:
        -- paid plus discount plus withheld amounts, or the remittance's own
        -- invoice amount when it gives one.
        coalesce(
            invoice_amount,
            paid_amount + discount_amount + withheld_amount
        ) as gross_amount
    from prepared
)

select * from final
