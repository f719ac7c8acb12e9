-- One row per invoice line. When several files carry the same key, the row
-- from the file loaded last wins.
with

latest as (
    {{ latest_rows('invoice_lines', 'invoice_id, line_number') }}
),

final as (
    select
        invoice_id,
        line_number,
        sku,
        description,
        uom,
        quantity,
        unit_price,
        line_amount,
        source_file,
        file_hash,
        source_position
    from latest
)

select * from final
