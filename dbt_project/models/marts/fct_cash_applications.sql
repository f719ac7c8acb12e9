-- One row per allocation of a payment to an invoice: the amount applied
-- and how the remittance line was matched to the invoice.
--
-- A table, rebuilt for the keys that int_invoice_allocations rebuilds. As a
-- view, it made each test and reader hash the id of every allocation again.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('invoice_id', 'int_allocation_scope'), ('payment_id', 'int_payment_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_allocation_scope') }}
-- depends_on: {{ ref('int_payment_scope') }}

with

allocations as (
    select * from {{ ref('int_invoice_allocations') }}
    where {{ in_build_scope('invoice_id', 'int_allocation_scope') }}
        or {{ in_build_scope('payment_id', 'int_payment_scope') }}
),

final as (
    select
        {{ stable_id('APP', ['payment_id', 'cast(line_number as varchar)', 'invoice_id']) }}
            as application_id,
        payment_id,
        line_number as remittance_line_number,
        invoice_id,
        invoice_customer_id as customer_id,
        applied_amount,
        match_method,
        match_confidence,
        invoice_reference,
        is_partial_payment,
        open_before_amount,
        discount_taken_amount,
        payment_date,
        source_file,
        source_position
    from allocations
)

select * from final
