-- One row per invoice line with the evidence that can back a deduction on
-- it: the value of what proof of delivery shows as not delivered, and the
-- value of the invoiced price above the customer's agreed price.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_invoice_scope() }}",
    )
}}

-- depends_on: {{ ref('int_invoice_scope') }}
-- depends_on: {{ ref('int_invoice_scope_files') }}
-- depends_on: {{ ref('stg_invoice_lines') }}
-- depends_on: {{ ref('stg_shipments') }}
-- depends_on: {{ ref('stg_invoices') }}

with

-- The rows of stg_invoices, stg_invoice_lines and stg_shipments, read from the
-- raw tables so that an incremental build ranks only the versions of the
-- invoices it rebuilds.
invoice_lines as (
    select
        invoice_id, line_number, sku, description, uom, quantity, unit_price,
        line_amount
    from (
        {{ latest_rows('invoice_lines', 'invoice_id, line_number', scope_column='invoice_id') }}
    ) as latest
),

invoices as (
    select invoice_id, customer_id, invoice_date
    from ({{ invoice_rows(scope_column='invoice_id') }}) as scoped_invoices
),

shipments as (
    select invoice_id, line_number, shipped_quantity, delivered_quantity, pod_reference
    from (
        {{ latest_rows('shipments', 'invoice_id, line_number', scope_column='invoice_id') }}
    ) as latest
),

prices as (
    select * from {{ ref('stg_prices') }}
),

agreed_prices as (
    select
        invoice_lines.invoice_id,
        invoice_lines.line_number,
        min(prices.agreed_unit_price) as agreed_unit_price
    from invoice_lines
    inner join invoices on invoice_lines.invoice_id = invoices.invoice_id
    inner join prices
        on invoices.customer_id = prices.customer_id
        and invoice_lines.sku = prices.sku
        and invoices.invoice_date >= prices.valid_from
        and (prices.valid_to is null or invoices.invoice_date <= prices.valid_to)
    group by invoice_lines.invoice_id, invoice_lines.line_number
),

final as (
    select
        invoice_lines.invoice_id,
        invoice_lines.line_number,
        invoice_lines.sku,
        invoice_lines.description,
        invoice_lines.uom,
        invoice_lines.quantity,
        invoice_lines.unit_price,
        invoice_lines.line_amount,
        shipments.shipped_quantity,
        shipments.delivered_quantity,
        shipments.pod_reference,
        shipments.invoice_id is not null as has_proof_of_delivery,
        cast(
            round(
                greatest(shipments.shipped_quantity - shipments.delivered_quantity, 0)
                * invoice_lines.unit_price,
                2
            ) as decimal(18, 2)
        ) as undelivered_amount,
        agreed_prices.agreed_unit_price,
        agreed_prices.agreed_unit_price is not null as has_agreed_price,
        cast(
            round(
                greatest(invoice_lines.unit_price - agreed_prices.agreed_unit_price, 0)
                * invoice_lines.quantity,
                2
            ) as decimal(18, 2)
        ) as overcharged_amount
    from invoice_lines
    left join shipments
        on invoice_lines.invoice_id = shipments.invoice_id
        and invoice_lines.line_number = shipments.line_number
    left join agreed_prices
        on invoice_lines.invoice_id = agreed_prices.invoice_id
        and invoice_lines.line_number = agreed_prices.line_number
)

select * from final
