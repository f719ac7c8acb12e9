-- The files that hold a row of an invoice of int_invoice_scope, per raw
-- table keyed by invoice: invoices, invoice_lines and shipments. An
-- incremental build reads only these files' rows of those tables. Each file
-- is one run of rows in its table, so DuckDB skips the row groups of every
-- other file instead of reading all of them to find the few invoices in
-- scope. A full build leaves this table empty.

-- depends_on: {{ ref('int_invoice_scope') }}
-- depends_on: {{ source('raw', 'invoices') }}
-- depends_on: {{ source('raw', 'invoice_lines') }}
-- depends_on: {{ source('raw', 'shipments') }}

with

{% if incremental_build() %}

{% for table_name in invoice_keyed_tables() %}
{{ table_name }}_files as (
    select distinct
        '{{ table_name }}' as table_name,
        file_hash
    from {{ source('raw', table_name) }}
    where invoice_id in (select invoice_id from {{ ref('int_invoice_scope') }})
),

{% endfor %}
final as (
    {%- for table_name in invoice_keyed_tables() %}
    select table_name, file_hash from {{ table_name }}_files
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

{% else %}

{{ empty_scope(['table_name', 'file_hash']) }}

{% endif %}

select * from final
