{#- A filter that keeps the invoices of int_invoice_scope when an
    incremental build (var incremental_build) adds to a model's table, and
    every row otherwise.
    A model that calls it names its dependency with a comment line
    `-- depends_on: {{ ref('int_invoice_scope') }}`, because dbt does not
    see refs made inside is_incremental() while it parses. -#}
{% macro in_invoice_scope(column) -%}
    {%- if is_incremental() and var('incremental_build', false) -%}
        {{ column }} in (select invoice_id from {{ ref('int_invoice_scope') }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
