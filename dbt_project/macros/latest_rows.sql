{#- The rows of a raw ERP table with one row per key: when several files
    carry the same key, the row from the file loaded last wins. Rows of a
    file replaced by a later one at the same path (stg_superseded_files)
    are left out. -#}
{% macro latest_rows(table_name, key_columns) -%}
    select ranked.*
    from (
        select
            extract_rows.*,
            row_number() over (
                partition by {{ key_columns }}
                order by files.loaded_at desc, extract_rows.source_file desc
            ) as version_rank
        from {{ source('raw', table_name) }} as extract_rows
        left join {{ source('raw', 'files') }} as files
            on extract_rows.file_hash = files.file_hash
        left join (
            select distinct file_hash from {{ ref('stg_superseded_files') }}
        ) as superseded
            on extract_rows.file_hash = superseded.file_hash
        where superseded.file_hash is null
    ) as ranked
    where ranked.version_rank = 1
{%- endmacro %}
