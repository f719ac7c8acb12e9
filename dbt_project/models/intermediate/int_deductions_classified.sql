-- One row per deduction with its category. A customer reason code is looked
-- up in the rules with the most specific scope first: the customer, then its
-- parent, then its reason-code set, then the default table. Discounts taken
-- on the remittance are early-pay discounts; shortfalls with no reason are
-- unidentified.

{{ config(materialized='view') }}

with

detected as (
    select * from {{ ref('int_deductions') }}
),

memo_links as (
    select * from {{ ref('int_debit_memo_links') }}
),

-- The customer's debit memo supplies the reason code when the remittance
-- gave none.
deductions as (
    select
        detected.*,
        coalesce(detected.reason_code, memo_links.memo_reason_code)
            as effective_reason_code,
        memo_links.debit_memo_id,
        memo_links.debit_memo_line_number
    from detected
    left join memo_links on detected.deduction_id = memo_links.deduction_id
),

customers as (
    select customer_id, parent_customer_id, reason_code_set
    from {{ ref('stg_customers') }}
),

reason_codes as (
    select * from {{ source('rules', 'reason_codes') }}
),

scoped as (
    select
        deductions.deduction_id,
        reason_codes.rule_id,
        reason_codes.category,
        case reason_codes.scope_type
            when 'customer' then 1
            when 'parent' then 2
            when 'code_set' then 3
            else 4
        end as scope_rank
    from deductions
    left join customers on deductions.customer_id = customers.customer_id
    inner join reason_codes
        on upper(reason_codes.reason_code) = deductions.effective_reason_code
        and (
            (reason_codes.scope_type = 'customer'
                and reason_codes.scope_id = deductions.customer_id)
            or (reason_codes.scope_type = 'parent'
                and reason_codes.scope_id = customers.parent_customer_id)
            or (reason_codes.scope_type = 'code_set'
                and reason_codes.scope_id = customers.reason_code_set)
            or reason_codes.scope_type = 'default'
        )
),

ranked as (
    select
        scoped.*,
        row_number() over (
            partition by deduction_id order by scope_rank, rule_id
        ) as rule_rank
    from scoped
),

final as (
    select
        deductions.*,
        case
            when deductions.deduction_source = 'discount' then 'early_pay_discount'
            when ranked.category is not null then ranked.category
            else 'unidentified'
        end as category,
        case
            when deductions.deduction_source = 'discount'
                then 'builtin.remittance_discount'
            when ranked.rule_id is not null then ranked.rule_id
            when deductions.effective_reason_code is null then 'builtin.no_reason_code'
            else 'builtin.unknown_reason_code'
        end as category_rule_id
    from deductions
    left join ranked
        on deductions.deduction_id = ranked.deduction_id
        and ranked.rule_rank = 1
)

select * from final
