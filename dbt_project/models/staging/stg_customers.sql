-- One row per customer; when several files carry the same key, the row from
-- the file loaded last wins.
with

source as (
    select * from {{ source('raw', 'customers') }}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by customer_id
            order by files.loaded_at desc, source.source_file desc
        ) as version_rank
    from source
    left join files on source.file_hash = files.file_hash
),

final as (
    select
        customer_id,
        name as customer_name,
        parent_customer_id,
        lower(trim(ar_contact_email)) as ar_contact_email,
        ar_contact_name,
        country,
        reason_code_set,
        source_file,
        file_hash,
        source_position
    from ranked
    where version_rank = 1
)

select * from final
