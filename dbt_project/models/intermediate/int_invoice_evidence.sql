-- One row per invoice: its line evidence summed, and the single line that
-- explains a shortage or an overcharge when exactly one line does.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_invoice_scope() }}",
    )
}}

-- depends_on: {{ ref('int_invoice_scope') }}

with

line_evidence as (
    select * from {{ ref('int_invoice_line_evidence') }}
    where {{ in_invoice_scope('invoice_id') }}
),

final as (
    select
        invoice_id,
        sum(case when has_proof_of_delivery then 1 else 0 end) as pod_line_count,
        cast(sum(coalesce(undelivered_amount, 0)) as decimal(18, 2))
            as undelivered_amount,
        sum(case when undelivered_amount > 0 then 1 else 0 end)
            as undelivered_line_count,
        max(case when undelivered_amount > 0 then line_number end)
            as undelivered_line_number,
        {{ list_agg('pod_reference') }} as pod_references,
        sum(case when has_agreed_price then 1 else 0 end) as priced_line_count,
        cast(sum(coalesce(overcharged_amount, 0)) as decimal(18, 2))
            as overcharged_amount,
        sum(case when overcharged_amount > 0 then 1 else 0 end)
            as overcharged_line_count,
        max(case when overcharged_amount > 0 then line_number end)
            as overcharged_line_number
    from line_evidence
    group by invoice_id
)

select * from final
