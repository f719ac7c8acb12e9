{#- Incremental models. On an incremental build (one without
    --full-refresh) such a model first deletes the rows of the keys in its scope model (a
    pre-hook, delete_build_scope), then appends those keys' rows again
    (in_build_scope filters its inputs). Deleting by scope, not by the new
    rows' keys, also removes the rows of a key that is gone, such as an
    invoice missing from a replaced extract. On any other build the hook
    does nothing and the filter keeps every row.

    The scopes, each a model with one key column:
    - int_invoice_scope (invoice_id): invoices whose rows changed;
    - int_payment_scope (payment_id): payments whose match may change;
    - int_allocation_scope (invoice_id): invoices whose allocations may
      change;
    - int_balance_scope (payment_id): payments with an allocation that may
      change;
    - int_deduction_scope (deduction_id, with its invoice_id): deductions
      whose validity may change.

    A model that uses them names its dependency with a comment line
    `-- depends_on: {{ ref('int_invoice_scope') }}`, because dbt does not
    see refs made inside is_incremental() while it parses. -#}

{#- scope_column: the scope model's column to read, when not its own key
    (int_deduction_scope also names the invoice of each deduction). -#}
{% macro in_build_scope(column, scope_model, scope_column=none) -%}
    {%- if is_incremental() -%}
        {{ column }} in (select {{ scope_column or build_scope_column(scope_model) }} from {{ ref(scope_model) }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- scopes: a list of (column, scope model) pairs, or (column, scope model,
    scope column) triples; a row goes when any of its columns is in its
    scope. -#}
{% macro delete_build_scope(scopes) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
        {%- for scope in scopes %}
            {% if not loop.first %}or {% endif -%}
            {{ in_build_scope(scope[0], scope[1], scope[2] if scope | length > 2 else none) }}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{% macro build_scope_column(scope_model) -%}
    {%- if scope_model in ('int_payment_scope', 'int_balance_scope') -%}
        payment_id
    {%- elif scope_model == 'int_deduction_scope' -%}
        deduction_id
    {%- else -%}
        invoice_id
    {%- endif -%}
{%- endmacro %}

{#- Whether this build is incremental: the pipeline runs a full build with
    --full-refresh, and a database that no build has filled yet gets a full
    build too. A scope model is a plain table, so it cannot ask
    is_incremental(). -#}
{% macro incremental_build() -%}
    {%- if flags.FULL_REFRESH or not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(load_relation(previous_build_relation('int_invoice_allocations')) is not none) }}
{%- endmacro %}

{#- The final CTE of a scope model on a full build: no keys. columns is
    one column name or a list of them. -#}
{% macro empty_scope(columns) -%}
{%- set names = [columns] if columns is string else columns %}
final as (
    select
    {%- for name in names %}
        cast(null as varchar) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where false
)
{%- endmacro %}

{% macro in_invoice_scope(column) -%}
    {{ in_build_scope(column, 'int_invoice_scope') }}
{%- endmacro %}

{#- The raw tables keyed by invoice, whose files int_invoice_scope_files
    lists. -#}
{% macro invoice_keyed_tables() -%}
    {{ return(['invoices', 'invoice_lines', 'shipments']) }}
{%- endmacro %}

{#- The files of a raw table keyed by invoice that hold an invoice of the
    build's scope, as a query (see int_invoice_scope_files). A model that
    uses it names int_invoice_scope_files in a depends_on comment. -#}
{% macro invoice_scope_files(table_name) -%}
    select file_hash from {{ ref('int_invoice_scope_files') }}
    where table_name = '{{ table_name }}'
{%- endmacro %}

{#- Keeps the rows of an incremental model's raw input that sit in those
    files. -#}
{% macro in_invoice_scope_files(table_name, file_hash_column) -%}
    {%- if is_incremental() -%}
        {{ file_hash_column }} in ({{ invoice_scope_files(table_name) }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro delete_invoice_scope() -%}
    {{ delete_build_scope([('invoice_id', 'int_invoice_scope')]) }}
{%- endmacro %}

{#- The files an incremental build takes in: files that no completed build
    took in (raw.build_files), and the earlier versions that such a file
    replaced at the same path. -#}
{% macro changed_files() -%}
    select files.file_hash
    from {{ source('raw', 'files') }} as files
    left join {{ source('raw', 'build_files') }} as built
        on files.file_hash = built.file_hash
    where built.file_hash is null
    union
    select superseded.file_hash
    from {{ ref('stg_superseded_files') }} as superseded
    inner join {{ source('raw', 'files') }} as files
        on superseded.replaced_by_file_hash = files.file_hash
    left join {{ source('raw', 'build_files') }} as built
        on files.file_hash = built.file_hash
    where built.file_hash is null
{%- endmacro %}

{#- A model's table as the last build left it. A scope model reads it
    before that model is rebuilt in this build: the model refs the scope,
    so dbt builds the scope first. At parse time it is only a name. -#}
{% macro previous_build(model_name) -%}
    {%- if execute -%}
        {{ previous_build_relation(model_name) }}
    {%- else -%}
        {{ model_name }}
    {%- endif -%}
{%- endmacro %}

{% macro previous_build_relation(model_name) -%}
    {%- set node = graph.nodes.values()
        | selectattr('resource_type', 'equalto', 'model')
        | selectattr('name', 'equalto', model_name)
        | first -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{#- Whether a payment id is one that the files new to this build carry, or
    missing (rows without an id rank together). stg_payments ranks the rows
    of these ids again. -#}
{% macro is_new_payment_id(column) -%}
    ({{ column }} in (
        select payment_id
        from {{ source('raw', 'payments') }}
        where file_hash in ({{ changed_files() }})
    ) or {{ column }} is null)
{%- endmacro %}
