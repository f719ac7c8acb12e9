{#- Invoice-scoped incremental models. On an incremental build
    (var incremental_build) such a model first deletes the rows of the
    invoices in int_invoice_scope (delete_invoice_scope, its pre-hook), then
    appends those invoices' rows again (in_invoice_scope filters its
    inputs). Deleting by scope, not by the new rows' keys, also removes the
    rows of an invoice that is gone from a replaced extract. On any other
    build the hook does nothing and the filter keeps every row.
    A model that uses them names its dependency with a comment line
    `-- depends_on: {{ ref('int_invoice_scope') }}`, because dbt does not
    see refs made inside is_incremental() while it parses. -#}
{% macro in_invoice_scope(column) -%}
    {%- if is_incremental() and var('incremental_build', false) -%}
        {{ column }} in (select invoice_id from {{ ref('int_invoice_scope') }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro delete_invoice_scope() -%}
    {%- if is_incremental() and var('incremental_build', false) -%}
        delete from {{ this }}
        where invoice_id in (select invoice_id from {{ ref('int_invoice_scope') }})
    {%- endif -%}
{%- endmacro %}
