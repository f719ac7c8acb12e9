-- One row per promotion agreement; when several files carry the same key, the row from
-- the file loaded last wins.
with

source as (
    select * from {{ source('raw', 'promotions') }}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by promotion_id
            order by files.loaded_at desc, source.source_file desc
        ) as version_rank
    from source
    left join files on source.file_hash = files.file_hash
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
    from ranked
    where version_rank = 1
)

select * from final
