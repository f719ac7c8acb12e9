{#- The rows of a raw ERP table with one row per key: when several files
    carry the same key, the row from the file loaded last wins, and within
    one file the row nearest its end. Rows of a file replaced by a later
    one at the same path (stg_superseded_files) are left out. With
    scope_column, an incremental invoice-grain model reads only the rows of
    the invoices it rebuilds (in_invoice_scope), from the files that hold
    them (in_invoice_scope_files): the filters come before the ranking, so
    the rest of the table is never ranked. -#}
{% macro latest_rows(table_name, key_columns, scope_column=none) -%}
    select ranked.*
    from (
        select
            extract_rows.*,
            row_number() over (
                partition by {{ key_columns }}
                order by
                    files.loaded_at desc,
                    extract_rows.source_file desc,
                    {{ try_cast_to("regexp_extract(extract_rows.source_position, '([0-9]+)$', 1)", 'bigint') }} desc
            ) as version_rank
        from {{ source('raw', table_name) }} as extract_rows
        left join {{ source('raw', 'files') }} as files
            on extract_rows.file_hash = files.file_hash
        left join (
            select distinct file_hash from {{ ref('stg_superseded_files') }}
        ) as superseded
            on extract_rows.file_hash = superseded.file_hash
        where superseded.file_hash is null
        {%- if scope_column %}
            and {{ in_invoice_scope_files(table_name, 'extract_rows.file_hash') }}
            and {{ in_invoice_scope('extract_rows.' ~ scope_column) }}
        {%- endif %}
    ) as ranked
    where ranked.version_rank = 1
{%- endmacro %}
