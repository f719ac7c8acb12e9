-- One row per item that needs a person: a file or row that could not be
-- read, a payment that could not be applied, a deduction to review, a
-- deadline coming up, a data-quality failure. Status follows the review log.
with

detected as (
    select * from {{ ref('int_exceptions_detected') }}
),

decisions as (
    select * from {{ ref('int_exception_decisions') }}
),

final as (
    select
        detected.exception_id,
        detected.exception_type,
        detected.severity,
        detected.entity_type,
        detected.entity_id,
        detected.message,
        detected.detected_at,
        coalesce(decisions.status, 'open') as status,
        coalesce(decisions.assignee, detected.owner) as owner,
        detected.amount,
        detected.deduction_id,
        detected.source_file,
        detected.source_position,
        -- A file read on a later day than the run's as-of date is 0 days old.
        greatest({{ days_between('detected.detected_date', as_of_date()) }}, 0) as age_days,
        decisions.last_decided_at
    from detected
    left join decisions on detected.exception_id = decisions.exception_id
)

select * from final
