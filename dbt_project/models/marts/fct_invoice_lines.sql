-- One row per invoice line with its delivery and price evidence, for
-- drill-down from a deduction to the lines behind it.
with

line_evidence as (
    select * from {{ ref('int_invoice_line_evidence') }}
),

invoice_lines as (
    select invoice_id, line_number, description, uom
    from {{ ref('stg_invoice_lines') }}
),

final as (
    select
        line_evidence.invoice_id,
        line_evidence.line_number,
        line_evidence.sku,
        invoice_lines.description,
        invoice_lines.uom,
        line_evidence.quantity,
        line_evidence.unit_price,
        line_evidence.line_amount,
        line_evidence.shipped_quantity,
        line_evidence.delivered_quantity,
        line_evidence.pod_reference,
        line_evidence.undelivered_amount,
        line_evidence.agreed_unit_price,
        line_evidence.overcharged_amount
    from line_evidence
    inner join invoice_lines
        on line_evidence.invoice_id = invoice_lines.invoice_id
        and line_evidence.line_number = invoice_lines.line_number
)

select * from final
