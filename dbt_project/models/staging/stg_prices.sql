-- One row per customer, SKU and start date of an agreed price. When several
-- files carry the same key, the row from the file loaded last wins.
with

latest as (
    {{ latest_rows('prices', 'customer_id, sku, valid_from') }}
),

final as (
    select
        customer_id,
        sku,
        unit_price as agreed_unit_price,
        valid_from,
        valid_to,
        upper(currency) as currency,
        source_file,
        file_hash,
        source_position
    from latest
)

select * from final
