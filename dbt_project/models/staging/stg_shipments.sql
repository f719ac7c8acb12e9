-- One row per shipped invoice line, with its proof of delivery; when several files carry the same key, the row from
-- the file loaded last wins.
with

source as (
    select * from {{ source('raw', 'shipments') }}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by invoice_id, line_number
            order by files.loaded_at desc, source.source_file desc
        ) as version_rank
    from source
    left join files on source.file_hash = files.file_hash
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
    from ranked
    where version_rank = 1
)

select * from final
