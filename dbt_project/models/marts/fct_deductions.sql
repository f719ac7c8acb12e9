-- One row per deduction: an amount a customer withheld from one invoice (or
-- from a payment, with no invoice) for one reason, with its category,
-- validity, workflow status and deadline. Review decisions override the
-- automatic validity and set the status.
--
-- An incremental build rebuilds the deductions of int_deduction_scope and
-- every deduction that a review decision touched, then adds any deduction
-- the table lacks. The other rows only get their days outstanding for the
-- run date.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook=[
            "{{ delete_build_scope([('deduction_id', 'int_deduction_scope')]) }}",
            "{{ delete_decided_deductions() }}",
        ],
        post_hook="{{ refresh_dated_column('days_outstanding', fct_deduction_days_outstanding()) }}",
    )
}}

-- depends_on: {{ ref('int_deduction_scope') }}

with

-- On an incremental build int_deductions_ruled holds only the deductions
-- that this table lacks once the pre-hooks ran.
deductions as (
    select * from {{ ref('int_deductions_ruled') }}
),

decisions as (
    select * from {{ ref('int_deduction_decisions') }}
),

payments as (
    select payment_id, file_hash, currency from {{ ref('int_payments_resolved') }}
),

ruleset as (
    select max(content_hash) as ruleset_hash from {{ source('rules', 'ruleset') }}
),

merged as (
    select
        deductions.*,
        payments.currency as payment_currency,
        decisions.status as decided_status,
        decisions.decided_valid_amount,
        decisions.decided_invalid_amount,
        decisions.first_decided_at,
        decisions.resolved_at,
        decisions.assignee,
        ruleset.ruleset_hash
    from deductions
    inner join payments
        on deductions.payment_id = payments.payment_id
        and deductions.file_hash = payments.file_hash
    left join decisions on deductions.deduction_id = decisions.deduction_id
    cross join ruleset
),

decided as (
    select
        merged.*,
        case
            when decided_valid_amount is not null and decided_invalid_amount > 0
                then 'invalid'
            when decided_valid_amount is not null then 'valid'
            else validity
        end as final_validity,
        cast(coalesce(decided_valid_amount, valid_amount) as decimal(18, 2))
            as final_valid_amount,
        coalesce(
            decided_status,
            case
                when is_auto_approved and validity = 'invalid' then 'written_off'
                when is_auto_approved then 'approved'
                else 'open'
            end
        ) as status,
        -- An automatic write-off is resolved when the deduction is opened.
        coalesce(
            resolved_at,
            case
                when decided_status is null and is_auto_approved and validity = 'invalid'
                    then cast(opened_date as timestamp)
            end
        ) as effective_resolved_at
    from merged
),

final as (
    select
        deduction_id,
        payment_id,
        customer_id,
        invoice_id,
        attributed_line_number as invoice_line_number,
        deduction_amount,
        payment_currency as currency,
        effective_reason_code as customer_reason_code,
        category,
        final_validity as validity,
        case
            when final_validity = 'needs_review' then cast(0 as decimal(18, 2))
            else final_valid_amount
        end as valid_amount,
        cast(
            case
                when final_validity = 'needs_review' then 0
                else deduction_amount - final_valid_amount
            end as decimal(18, 2)
        ) as invalid_amount,
        validity_reason,
        evidence_reference,
        status,
        opened_date,
        {{ fct_deduction_days_outstanding('effective_resolved_at') }} as days_outstanding,
        rule_id,
        category_rule_id,
        ruleset_hash,
        deadline_date,
        dispute_window_days,
        owner,
        team,
        coalesce(assignee, owner) as assignee,
        is_auto_approved,
        deduction_source,
        customer_memo,
        adjustment_reference,
        debit_memo_id,
        debit_memo_line_number,
        payment_date,
        first_decided_at,
        effective_resolved_at as resolved_at,
        source_file,
        source_position
    from decided
)

select * from final
