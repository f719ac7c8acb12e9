-- One row per promotion agreement. When several files carry the same key,
-- the row from the file loaded last wins.
with

latest as (
    {{ latest_rows('promotions', 'promotion_id') }}
),

final as (
    select
        promotion_id,
        customer_id,
        start_date,
        end_date,
        lower(promotion_type) as promotion_type,
        amount_cap,
        sku,
        rate_per_unit,
        description,
        source_file,
        file_hash,
        source_position
    from latest
)

select * from final
