-- One row per remittance line: what the customer wrote, the invoice it was
-- matched to and how, for drill-down from a deduction to its remittance.

{{ config(materialized='view') }}

with

matches as (
    select * from {{ ref('int_remittance_matches') }}
),

final as (
    select
        payment_id,
        line_number,
        invoice_reference,
        reference_qualifier,
        po_number,
        paid_amount,
        invoice_amount,
        discount_amount,
        withheld_amount,
        is_partial,
        memo,
        match_status,
        invoice_id,
        invoice_customer_id,
        match_method,
        match_confidence,
        candidate_count,
        payer_customer_id,
        payment_date,
        source_file,
        source_position
    from matches
)

select * from final
