-- One row per invoice with its balance:
-- total_amount = applied_amount + discount_amount + deducted_amount + open_amount.
--
-- An incremental build rebuilds the invoices whose allocations may change
-- (int_allocation_scope, which contains every invoice whose rows changed) and
-- the invoices of the deductions decided again (int_deduction_scope). The
-- other rows only get their days past due for the run date.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([
            ('invoice_id', 'int_allocation_scope'),
            ('invoice_id', 'int_deduction_scope', 'invoice_id'),
        ]) }}",
        post_hook="{{ refresh_dated_column('days_past_due', fct_invoice_days_past_due()) }}",
    )
}}

-- depends_on: {{ ref('int_allocation_scope') }}
-- depends_on: {{ ref('int_deduction_scope') }}

with

invoices as (
    select * from {{ ref('int_invoices_prepared') }}
    where {{ in_build_scope('invoice_id', 'int_allocation_scope') }}
        or {{ in_build_scope('invoice_id', 'int_deduction_scope', 'invoice_id') }}
),

applications as (
    select
        invoice_id,
        customer_id,
        sum(applied_amount) as applied_amount,
        max(payment_date) as last_payment_date,
        count(*) as application_count
    from {{ ref('fct_cash_applications') }}
    where invoice_id in (select invoice_id from invoices)
    group by invoice_id, customer_id
),

-- Deductions as fct_deductions has them, read from the table that decides
-- their evidence, so that this model need not wait for fct_deductions.
deductions as (
    select
        invoice_id,
        customer_id,
        sum(
            case when category = 'early_pay_discount' then deduction_amount else 0 end
        ) as discount_amount,
        sum(
            case when category <> 'early_pay_discount' then deduction_amount else 0 end
        ) as deducted_amount,
        count(*) as deduction_count
    from {{ ref('int_deductions_validated') }}
    where invoice_id in (select invoice_id from invoices)
    group by invoice_id, customer_id
),

balances as (
    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date,
        invoices.due_date,
        invoices.po_number,
        invoices.currency,
        invoices.total_amount,
        invoices.payment_terms,
        invoices.is_disputed,
        cast(coalesce(applications.applied_amount, 0) as decimal(18, 2))
            as applied_amount,
        cast(coalesce(deductions.discount_amount, 0) as decimal(18, 2))
            as discount_amount,
        cast(coalesce(deductions.deducted_amount, 0) as decimal(18, 2))
            as deducted_amount,
        cast(
            invoices.total_amount
            - coalesce(applications.applied_amount, 0)
            - coalesce(deductions.discount_amount, 0)
            - coalesce(deductions.deducted_amount, 0)
            as decimal(18, 2)
        ) as open_amount,
        coalesce(applications.application_count, 0) as application_count,
        coalesce(deductions.deduction_count, 0) as deduction_count,
        applications.last_payment_date,
        invoices.source_file
    from invoices
    left join applications
        on invoices.invoice_id = applications.invoice_id
        and invoices.customer_id = applications.customer_id
    left join deductions
        on invoices.invoice_id = deductions.invoice_id
        and invoices.customer_id = deductions.customer_id
),

final as (
    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        po_number,
        currency,
        total_amount,
        payment_terms,
        is_disputed,
        applied_amount,
        discount_amount,
        deducted_amount,
        open_amount,
        application_count,
        deduction_count,
        last_payment_date,
        -- Days an open balance is past its due date; null once settled.
        {{ fct_invoice_days_past_due() }} as days_past_due,
        source_file
    from balances
)

select * from final
