-- One row per agreed price of a SKU for a customer from a date; when several files carry the same key, the row from
-- the file loaded last wins.
with

source as (
    select * from {{ source('raw', 'prices') }}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by customer_id, sku, valid_from
            order by files.loaded_at desc, source.source_file desc
        ) as version_rank
    from source
    left join files on source.file_hash = files.file_hash
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
    from ranked
    where version_rank = 1
)

select * from final
