-- One row per file that a later file at the same path replaced: the same
-- name with other content, loaded after it. Extract rows of a replaced file
-- no longer count, and neither do the problems found in it.
with

files as (
    select file_hash, source_file, status, loaded_at from {{ source('raw', 'files') }}
),

final as (
    select distinct older.file_hash
    from files as older
    inner join files as newer
        on older.source_file = newer.source_file
        and newer.loaded_at > older.loaded_at
        and newer.status = 'loaded'
)

select * from final
