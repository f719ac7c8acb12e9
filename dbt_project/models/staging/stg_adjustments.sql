-- One row per amount a remittance withheld (positive) or added (negative),
-- at invoice level (line_number set) or payment level (line_number null).
with

source as (
    select * from {{ source('raw', 'adjustments') }}
),

final as (
    select
        payment_id,
        adjustment_number,
        line_number,
        file_hash,
        cast(amount as decimal(18, 2)) as adjustment_amount,
        upper(nullif(trim(reason_code), '')) as reason_code,
        reference as adjustment_reference,
        memo as customer_memo,
        invoice_line_number,
        source_format,
        source_file,
        source_position
    from source
)

select * from final
