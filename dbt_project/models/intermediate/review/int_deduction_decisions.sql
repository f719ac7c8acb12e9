with

decision_log as (

    select * from {{ source('raw', 'decision_log') }}

),

deduction_decisions as (

    select * from decision_log
    where deduction_id is not null

),

ranked_decisions as (

    select
        deduction_id,
        action,
        status_after,
        decided_at,
        row_number() over (
            partition by deduction_id
            order by sequence desc
        ) as recency_rank
    from deduction_decisions

),

latest_decisions as (

    select
        deduction_id,
        action as last_action,
        status_after as status,
        decided_at as last_decided_at
    from ranked_decisions
    where recency_rank = 1

),

-- The first decision that sets a status or a split. Assigning, a note, a
-- request for backup and a proposal decide nothing.
decision_spans as (

    select
        deduction_id,
        min(decided_at) as first_decided_at
    from deduction_decisions
    where action not in ('assign', 'note', 'request_backup', 'propose')
    group by deduction_id

),

ranked_assignments as (

    select
        deduction_id,
        assignee,
        row_number() over (
            partition by deduction_id
            order by sequence desc
        ) as recency_rank
    from deduction_decisions
    where action = 'assign'

),

latest_assignments as (

    select
        deduction_id,
        assignee
    from ranked_assignments
    where recency_rank = 1

),

ranked_status_changes as (

    select
        deduction_id,
        decided_at,
        row_number() over (
            partition by deduction_id
            order by sequence desc
        ) as recency_rank
    from deduction_decisions
    where status_after is distinct from status_before

),

latest_status_changes as (

    select
        deduction_id,
        decided_at as status_changed_at
    from ranked_status_changes
    where recency_rank = 1

),

-- approve and dispute set the split; a later reopen clears it again.
ranked_amount_decisions as (

    select
        deduction_id,
        action,
        valid_amount_after,
        invalid_amount_after,
        row_number() over (
            partition by deduction_id
            order by sequence desc
        ) as recency_rank
    from deduction_decisions
    where action in ('approve', 'dispute', 'reopen')

),

latest_amount_decisions as (

    select
        deduction_id,
        valid_amount_after as decided_valid_amount,
        invalid_amount_after as decided_invalid_amount
    from ranked_amount_decisions
    where recency_rank = 1
        and action in ('approve', 'dispute')

),

final as (

    select
        latest_decisions.deduction_id,
        latest_decisions.status,
        latest_decisions.last_action,
        latest_decisions.last_decided_at,
        decision_spans.first_decided_at,
        case
            when latest_decisions.status in (
                'approved', 'recovered', 'written_off', 'closed'
            )
                then latest_status_changes.status_changed_at
        end as resolved_at,
        latest_assignments.assignee,
        cast(
            latest_amount_decisions.decided_valid_amount as decimal(18, 2)
        ) as decided_valid_amount,
        cast(
            latest_amount_decisions.decided_invalid_amount as decimal(18, 2)
        ) as decided_invalid_amount
    from latest_decisions
    left join decision_spans
        on latest_decisions.deduction_id = decision_spans.deduction_id
    left join latest_assignments
        on latest_decisions.deduction_id = latest_assignments.deduction_id
    left join latest_status_changes
        on latest_decisions.deduction_id = latest_status_changes.deduction_id
    left join latest_amount_decisions
        on latest_decisions.deduction_id = latest_amount_decisions.deduction_id

)

select * from final
