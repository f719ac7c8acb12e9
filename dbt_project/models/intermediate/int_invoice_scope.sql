-- The invoices an incremental build rebuilds. These are the invoices with
-- an invoice, line or shipment row in a file that no earlier build has
-- seen, or in a file that such a file replaced. Invoices with a line whose
-- customer and SKU got a new or replaced agreed price are rebuilt too. A
-- full build rebuilds everything and leaves this table empty.

-- depends_on: {{ ref('stg_superseded_files') }}
-- depends_on: {{ source('raw', 'files') }}
-- depends_on: {{ source('raw', 'build_files') }}
-- depends_on: {{ source('raw', 'prices') }}
-- depends_on: {{ source('raw', 'invoices') }}
-- depends_on: {{ source('raw', 'invoice_lines') }}
-- depends_on: {{ source('raw', 'shipments') }}

with

{% if incremental_build() %}

changed_files as (
    {{ changed_files() }}
),

new_prices as (
    select distinct customer_id, sku
    from {{ source('raw', 'prices') }}
    where file_hash in (select file_hash from changed_files)
),

repriced as (
    select lines.invoice_id
    from {{ source('raw', 'invoice_lines') }} as lines
    inner join {{ source('raw', 'invoices') }} as invoices
        on lines.invoice_id = invoices.invoice_id
    inner join new_prices
        on invoices.customer_id = new_prices.customer_id
        and lines.sku = new_prices.sku
),

final as (
    select invoice_id from {{ source('raw', 'invoices') }}
    where file_hash in (select file_hash from changed_files)
    union
    select invoice_id from {{ source('raw', 'invoice_lines') }}
    where file_hash in (select file_hash from changed_files)
    union
    select invoice_id from {{ source('raw', 'shipments') }}
    where file_hash in (select file_hash from changed_files)
    union
    select invoice_id from repriced
)

{% else %}

{{ empty_scope('invoice_id') }}

{% endif %}

select * from final
