-- One row per deduction with the analyst rules applied on top of the
-- evidence: automatic write-off under a tolerance, the dispute deadline and
-- the owner. Each rule is the most specific one that matches: customer,
-- then parent, then default, and a category-specific rule before a general
-- one of the same scope.

-- Inlined into fct_deductions, its only reader, so the build does not wait
-- for a separate node between the two.
{{ config(materialized='ephemeral') }}

with

-- On an incremental build, only the deductions that fct_deductions lacks
-- after its pre-hooks, so the rules are ranked for those alone.
{%- set built = previous_build_relation('fct_deductions') if execute else none %}
deductions as (
    select * from {{ ref('int_deductions_validated') }}
    {%- if incremental_build() and load_relation(built) is not none %}
    where deduction_id not in (
        select deduction_id from {{ built }} where deduction_id is not null
    )
    {%- endif %}
),

customers as (
    select customer_id, parent_customer_id from {{ ref('stg_customers') }}
),

tolerances as (
    select * from {{ source('rules', 'tolerances') }}
),

windows as (
    select * from {{ source('rules', 'dispute_windows') }}
),

routing as (
    select * from {{ source('rules', 'routing') }}
),

scoped as (
    select
        deductions.deduction_id,
        deductions.customer_id,
        customers.parent_customer_id,
        deductions.category,
        deductions.deduction_amount,
        deductions.invoice_total_amount
    from deductions
    left join customers on deductions.customer_id = customers.customer_id
),

{% set scope_rank -%}
    case rule.scope_type
        when 'customer' then 0
        when 'parent' then 2
        else 4
    end + case when rule.category is null then 1 else 0 end
{%- endset %}

{% set scope_match -%}
    (
        (rule.scope_type = 'customer' and rule.scope_id = scoped.customer_id)
        or (rule.scope_type = 'parent' and rule.scope_id = scoped.parent_customer_id)
        or rule.scope_type = 'default'
    )
    and (rule.category is null or rule.category = scoped.category)
{%- endset %}

tolerance_candidates as (
    select
        scoped.deduction_id,
        rule.rule_id,
        rule.max_amount,
        rule.max_percent,
        row_number() over (
            partition by scoped.deduction_id
            order by {{ scope_rank }}, rule.rule_id
        ) as rule_rank
    from scoped
    inner join tolerances as rule on {{ scope_match }}
),

-- Within tolerance when every limit the rule sets holds.
tolerance as (
    select
        tolerance_candidates.deduction_id,
        tolerance_candidates.rule_id,
        tolerance_candidates.max_amount,
        (
            (max_amount is not null or max_percent is not null)
            and (max_amount is null or scoped.deduction_amount <= max_amount)
            and (
                max_percent is null
                or (
                    scoped.invoice_total_amount > 0
                    and scoped.deduction_amount * 100
                    <= max_percent * scoped.invoice_total_amount
                )
            )
        ) as is_within_tolerance
    from tolerance_candidates
    inner join scoped on tolerance_candidates.deduction_id = scoped.deduction_id
    where tolerance_candidates.rule_rank = 1
),

window_candidates as (
    select
        scoped.deduction_id,
        rule.rule_id,
        rule.window_days,
        row_number() over (
            partition by scoped.deduction_id
            order by {{ scope_rank }}, rule.rule_id
        ) as rule_rank
    from scoped
    inner join windows as rule on {{ scope_match }}
),

routing_candidates as (
    select
        scoped.deduction_id,
        rule.rule_id,
        rule.owner,
        rule.team,
        row_number() over (
            partition by scoped.deduction_id
            order by {{ scope_rank }}, rule.priority, rule.rule_id
        ) as rule_rank
    from scoped
    inner join routing as rule
        on {{ scope_match }}
        and (rule.min_amount is null or scoped.deduction_amount >= rule.min_amount)
        and (rule.max_amount is null or scoped.deduction_amount < rule.max_amount)
),

-- Under a tolerance, a deduction that needs review is approved as valid,
-- and an invalid one keeps its validity, so the invalid rate stays true,
-- but is written off instead of disputed.
auto_approved as (
    select
        deductions.deduction_id,
        coalesce(
            tolerance.is_within_tolerance and deductions.evidence_validity <> 'valid',
            false
        ) as is_auto_approved
    from deductions
    left join tolerance on deductions.deduction_id = tolerance.deduction_id
),

final as (
    select
        deductions.*,
        auto_approved.is_auto_approved,
        case
            when auto_approved.is_auto_approved
                and deductions.evidence_validity = 'needs_review' then 'valid'
            else deductions.evidence_validity
        end as validity,
        cast(
            case
                when auto_approved.is_auto_approved
                    and deductions.evidence_validity = 'needs_review'
                    then deductions.deduction_amount
                else deductions.evidence_valid_amount
            end as decimal(18, 2)
        ) as valid_amount,
        case
            when auto_approved.is_auto_approved
                then deductions.evidence_reason
                    || '; written off under tolerance rule ' || tolerance.rule_id
            else deductions.evidence_reason
        end as validity_reason,
        case
            when auto_approved.is_auto_approved then tolerance.rule_id
            else deductions.validity_rule_id
        end as rule_id,
        deductions.payment_date as opened_date,
        window_candidates.window_days as dispute_window_days,
        window_candidates.rule_id as dispute_window_rule_id,
        {{ add_days('deductions.payment_date', 'window_candidates.window_days') }}
            as deadline_date,
        routing_candidates.owner,
        routing_candidates.team,
        routing_candidates.rule_id as routing_rule_id
    from deductions
    inner join auto_approved on deductions.deduction_id = auto_approved.deduction_id
    left join tolerance on deductions.deduction_id = tolerance.deduction_id
    left join window_candidates
        on deductions.deduction_id = window_candidates.deduction_id
        and window_candidates.rule_rank = 1
    left join routing_candidates
        on deductions.deduction_id = routing_candidates.deduction_id
        and routing_candidates.rule_rank = 1
)

select * from final
