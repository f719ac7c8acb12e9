-- One row per invoice line with its delivery and price evidence, for
-- drill-down from a deduction to the lines behind it.

{{ config(materialized='view') }}

with

line_evidence as (
    select * from {{ ref('int_invoice_line_evidence') }}
),

final as (
    select
        invoice_id,
        line_number,
        sku,
        description,
        uom,
        quantity,
        unit_price,
        line_amount,
        shipped_quantity,
        delivered_quantity,
        pod_reference,
        undelivered_amount,
        agreed_unit_price,
        overcharged_amount
    from line_evidence
)

select * from final
