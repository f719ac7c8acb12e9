-- One row per file and each later file that replaced it: the same path
-- with other content, loaded after it. Extract rows of a replaced file no
-- longer count, and neither do the problems found in it.
with

files as (
    select file_hash, source_file, status, loaded_at from {{ source('raw', 'files') }}
),

final as (
    select
        older.file_hash,
        newer.file_hash as replaced_by_file_hash
    from files as older
    inner join files as newer
        on older.source_file = newer.source_file
        and newer.loaded_at > older.loaded_at
        and newer.status = 'loaded'
)

select * from final
