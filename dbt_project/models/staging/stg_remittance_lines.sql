-- One row per invoice reference within a payment's remittance.
with

source as (
    select * from {{ source('raw', 'remittance_lines') }}
),

final as (
    select
        payment_id,
        line_number,
        file_hash,
        nullif(trim(invoice_reference), '') as invoice_reference,
        upper(reference_qualifier) as reference_qualifier,
        cast(paid_amount as decimal(18, 2)) as paid_amount,
        cast(invoice_amount as decimal(18, 2)) as invoice_amount,
        cast(coalesce(discount_amount, 0) as decimal(18, 2)) as discount_amount,
        nullif(trim(po_number), '') as po_number,
        other_references,
        invoice_line_number,
        coalesce(is_partial, false) as is_partial,
        memo,
        source_format,
        source_file,
        source_position
    from source
)

select * from final
