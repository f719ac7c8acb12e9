-- One row per invoice, with its normalised id for reference matching and
-- the discount terms parsed from notation such as `2/10 NET 30`.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_invoice_scope() }}",
    )
}}

-- depends_on: {{ ref('int_invoice_scope') }}
-- depends_on: {{ ref('int_invoice_scope_files') }}
-- depends_on: {{ ref('stg_invoices') }}

with

-- The rows of stg_invoices, read from the raw table so that an incremental
-- build ranks only the versions of the invoices it rebuilds.
invoices as (
    {{ invoice_rows(scope_column='invoice_id') }}
),

parsed as (
    select
        invoices.*,
        {{ strip_reference_prefix(alnum_upper('invoice_id')) }} as invoice_key,
        {{ try_cast_to("regexp_extract(payment_terms, '^([0-9]+(\\.[0-9]+)?)/', 1)", 'decimal(9, 4)') }}
            as discount_percent,
        {{ try_cast_to("regexp_extract(payment_terms, '^[0-9.]+/([0-9]+)', 1)", 'integer') }}
            as discount_days,
        {{ try_cast_to("regexp_extract(payment_terms, 'NET ?([0-9]+)', 1)", 'integer') }}
            as net_days
    from invoices
),

final as (
    select * from parsed
)

select * from final
