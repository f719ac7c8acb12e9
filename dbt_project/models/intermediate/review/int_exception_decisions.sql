with

decision_log as (

    select * from {{ source('raw', 'decision_log') }}

),

exception_decisions as (

    select * from decision_log
    where exception_id is not null

),

ranked_decisions as (

    select
        exception_id,
        status_after,
        decided_at,
        row_number() over (
            partition by exception_id
            order by sequence desc
        ) as recency_rank
    from exception_decisions

),

latest_decisions as (

    select
        exception_id,
        case
            when status_after = 'resolved' then 'resolved' else 'open'
        end as status,
        decided_at as last_decided_at
    from ranked_decisions
    where recency_rank = 1

),

ranked_assignments as (

    select
        exception_id,
        assignee,
        row_number() over (
            partition by exception_id
            order by sequence desc
        ) as recency_rank
    from exception_decisions
    where action = 'assign'

),

latest_assignments as (

    select
        exception_id,
        assignee
    from ranked_assignments
    where recency_rank = 1

),

final as (

    select
        latest_decisions.exception_id,
        latest_decisions.status,
        latest_assignments.assignee,
        latest_decisions.last_decided_at
    from latest_decisions
    left join latest_assignments
        on latest_decisions.exception_id = latest_assignments.exception_id

)

select * from final
