-- One row per shipped invoice line, with its proof of delivery. When several
-- files carry the same key, the row from the file loaded last wins.
with

latest as (
    {{ latest_rows('shipments', 'invoice_id, line_number') }}
),

final as (
    select
        invoice_id,
        line_number,
        shipped_quantity,
        delivered_quantity,
        delivery_date,
        pod_reference,
        carrier,
        source_file,
        file_hash,
        source_position
    from latest
)

select * from final
