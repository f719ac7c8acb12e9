-- One row per item that needs a person, from every stage of the run, before
-- review decisions are applied. Each item's id is derived from what it is
-- about, so it stays the same on every run over the same input.
with

issues as (
    select * from {{ source('raw', 'ingest_issues') }}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

payments as (
    select * from {{ ref('stg_payments') }}
),

matches as (
    select * from {{ ref('int_remittance_matches') }}
),

resolved_payments as (
    select * from {{ ref('int_payments_resolved') }}
),

allocations as (
    select * from {{ ref('int_invoice_allocations') }}
),

balances as (
    select * from {{ ref('int_payment_balances') }}
),

deductions as (
    select * from {{ ref('fct_deductions') }}
),

dq_failures as (
    select * from {{ source('raw', 'dq_failures') }}
),

outbox as (
    select * from {{ source('raw', 'followup_outbox') }}
),

settings as (
    select
        coalesce(
            max(case when key = 'deadline_warning_days' then {{ try_cast_to('value', 'integer') }} end),
            7
        ) as deadline_warning_days
    from {{ source('rules', 'settings') }}
),

ingest_exceptions as (
    select
        'ingest_error' as exception_type,
        coalesce(issues.severity, 'error') as severity,
        'file' as entity_type,
        issues.source_file as entity_id,
        issues.reason as message,
        cast(null as decimal(18, 2)) as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        issues.source_file,
        issues.source_position,
        cast(issues.detected_at as date) as detected_date,
        issues.file_hash || '|' || coalesce(issues.source_position, '')
            || '|' || issues.reason as detail_key
    from issues
    -- A file replaced at the same path takes its problems with it.
    left join (
        select distinct file_hash from {{ ref('stg_superseded_files') }}
    ) as superseded
        on issues.file_hash = superseded.file_hash
    where superseded.file_hash is null
),

repeated_payments as (
    select
        'duplicate_payment' as exception_type,
        'warning' as severity,
        'payment' as entity_type,
        payments.payment_id as entity_id,
        'payment ' || payments.payment_id
            || ' was already posted from an earlier file; this copy is not posted'
            as message,
        payments.payment_amount as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        payments.source_file,
        payments.source_position,
        cast(files.loaded_at as date) as detected_date,
        payments.file_hash as detail_key
    from payments
    left join files on payments.file_hash = files.file_hash
    where payments.is_repeated_id
),

unpaired_reversals as (
    select
        'unmatched_reversal' as exception_type,
        'warning' as severity,
        'payment' as entity_type,
        resolved_payments.payment_id as entity_id,
        'reversal ' || resolved_payments.payment_id || ' of '
            || {{ amount_text('-resolved_payments.payment_amount') }}
            || ' matches no earlier payment of the same customer and amount'
            as message,
        resolved_payments.payment_amount as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        resolved_payments.source_file,
        resolved_payments.source_position,
        resolved_payments.payment_date as detected_date,
        resolved_payments.file_hash as detail_key
    from resolved_payments
    left join resolved_payments as originals
        on resolved_payments.payment_id = originals.reversed_by_payment_id
    where resolved_payments.is_reversal and originals.payment_id is null
),

line_exceptions as (
    select
        case matches.match_status
            when 'unmatched' then 'unmatched_remittance'
            when 'ambiguous' then 'ambiguous_match'
            else 'currency_mismatch'
        end as exception_type,
        case
            when matches.match_status = 'currency_mismatch' then 'error'
            else 'warning'
        end as severity,
        'remittance_line' as entity_type,
        matches.payment_id || '#' || cast(matches.line_number as varchar) as entity_id,
        case matches.match_status
            when 'unmatched' then 'reference '
                || coalesce('''' || matches.invoice_reference || '''', '(none)')
                || ' of payment ' || matches.payment_id
                || ' matches no invoice; its amount stays unapplied'
            when 'ambiguous' then 'reference '
                || coalesce('''' || matches.invoice_reference || '''', '(none)')
                || ' of payment ' || matches.payment_id || ' fits '
                || cast(matches.candidate_count as varchar)
                || ' invoices or combinations of invoices equally well; nothing was applied'
            else 'payment ' || matches.payment_id || ' is in '
                || matches.payment_currency
                || ' but the matched invoice is in another currency; nothing was applied'
        end as message,
        coalesce(matches.paid_amount, matches.gross_amount) as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        matches.source_file,
        matches.source_position,
        matches.payment_date as detected_date,
        matches.file_hash as detail_key
    from matches
    where matches.match_status in ('unmatched', 'ambiguous', 'currency_mismatch')
),

allocation_exceptions as (
    select
        case
            when allocations.open_before_amount = 0 then 'invoice_already_paid'
            else 'overpayment'
        end as exception_type,
        'warning' as severity,
        'remittance_line' as entity_type,
        allocations.payment_id || '#' || cast(allocations.line_number as varchar)
            as entity_id,
        case
            when allocations.open_before_amount = 0
                then 'invoice ' || allocations.invoice_id
                    || ' was already settled; '
                    || {{ amount_text('allocations.excess_paid_amount') }}
                    || ' of payment ' || allocations.payment_id || ' is not applied to it'
            -- The payment's unapplied amount shows whether the excess came
            -- as cash: a remittance may list more than its payment brought.
            else 'payment ' || allocations.payment_id || ' pays '
                || {{ amount_text('allocations.excess_paid_amount') }}
                || ' more than invoice ' || allocations.invoice_id
                || ' owed; the excess is not applied to it'
        end as message,
        allocations.excess_paid_amount as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        allocations.source_file,
        allocations.source_position,
        allocations.payment_date as detected_date,
        allocations.file_hash as detail_key
    from allocations
    where allocations.excess_paid_amount > 0
),

over_explained as (
    select
        'adjustment_exceeds_open' as exception_type,
        'warning' as severity,
        'remittance_line' as entity_type,
        allocations.payment_id || '#' || cast(allocations.line_number as varchar)
            as entity_id,
        'discounts and adjustments on invoice ' || allocations.invoice_id
            || ' exceed what it still owed by '
            || {{ amount_text('allocations.over_explained_amount') }}
            || '; the excess was not recorded as a deduction' as message,
        allocations.over_explained_amount as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        allocations.source_file,
        allocations.source_position,
        allocations.payment_date as detected_date,
        allocations.file_hash as detail_key
    from allocations
    where allocations.over_explained_amount > 0
),

payment_exceptions as (
    select
        'remittance_mismatch' as exception_type,
        'error' as severity,
        'payment' as entity_type,
        balances.payment_id as entity_id,
        'the remittance of payment ' || balances.payment_id || ' adds up to '
            || {{ amount_text('balances.stated_amount') }}
            || ' but the payment is '
            || {{ amount_text('balances.payment_amount') }}
            || ' (difference '
            || {{ amount_text('balances.payment_amount - balances.stated_amount') }}
            || ')' as message,
        cast(balances.payment_amount - balances.stated_amount as decimal(18, 2))
            as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        payments.source_file,
        payments.source_position,
        payments.payment_date as detected_date,
        balances.file_hash as detail_key
    from balances
    inner join payments
        on balances.payment_id = payments.payment_id
        and balances.file_hash = payments.file_hash
    where not balances.is_void
        and balances.stated_amount is not null
        and balances.stated_amount <> balances.payment_amount
),

unapplied as (
    select
        'unapplied_cash' as exception_type,
        'warning' as severity,
        'payment' as entity_type,
        balances.payment_id as entity_id,
        {{ amount_text('balances.unapplied_amount') }} || ' of payment '
            || balances.payment_id || ' is not applied to any invoice' as message,
        balances.unapplied_amount as amount,
        cast(null as varchar) as deduction_id,
        cast(null as varchar) as owner,
        payments.source_file,
        payments.source_position,
        payments.payment_date as detected_date,
        balances.file_hash as detail_key
    from balances
    inner join payments
        on balances.payment_id = payments.payment_id
        and balances.file_hash = payments.file_hash
    where not balances.is_void and balances.unapplied_amount > 0
),

deduction_reviews as (
    select
        'deduction_review' as exception_type,
        'info' as severity,
        'deduction' as entity_type,
        deduction_id as entity_id,
        category || ' deduction of ' || {{ amount_text('deduction_amount') }}
            || ' needs review: ' || validity_reason as message,
        deduction_amount as amount,
        deduction_id,
        assignee as owner,
        source_file,
        source_position,
        opened_date as detected_date,
        '' as detail_key
    from deductions
    where validity = 'needs_review' and status = 'open'
),

deadlines as (
    select
        'deadline_approaching' as exception_type,
        'warning' as severity,
        'deduction' as entity_type,
        deductions.deduction_id as entity_id,
        'the dispute window of deduction ' || deductions.deduction_id
            || ' closes on ' || cast(deductions.deadline_date as varchar) as message,
        deductions.invalid_amount as amount,
        deductions.deduction_id,
        deductions.assignee as owner,
        deductions.source_file,
        deductions.source_position,
        greatest(
            deductions.opened_date,
            {{ add_days('deductions.deadline_date', '-settings.deadline_warning_days') }}
        ) as detected_date,
        cast(deductions.deadline_date as varchar) as detail_key
    from deductions
    cross join settings
    where deductions.status in ('open', 'disputed')
        and deductions.invalid_amount > 0
        and deductions.deadline_date is not null
        and {{ days_between(as_of_date(), 'deductions.deadline_date') }}
            between 0 and settings.deadline_warning_days
),

-- An invalid amount still open after its dispute window closed can no
-- longer be recovered by follow-up: a person decides to write it off or
-- pursue it another way.
deadlines_passed as (
    select
        'deadline_passed' as exception_type,
        'warning' as severity,
        'deduction' as entity_type,
        deduction_id as entity_id,
        'the dispute window of deduction ' || deduction_id || ' closed on '
            || cast(deadline_date as varchar) || ' with '
            || {{ amount_text('invalid_amount') }} || ' invalid and not recovered'
            as message,
        invalid_amount as amount,
        deduction_id,
        assignee as owner,
        source_file,
        source_position,
        {{ add_days('deadline_date', 1) }} as detected_date,
        cast(deadline_date as varchar) as detail_key
    from deductions
    where status in ('open', 'disputed')
        and invalid_amount > 0
        and deadline_date < {{ as_of_date() }}
),

-- A message whose delivery failed or is unknown is held for a person. The
-- outbox is read at the start of a run, so the item appears one run later.
undelivered as (
    select
        'followup_undelivered' as exception_type,
        case when outbox.status = 'unknown' then 'error' else 'warning' end as severity,
        'followup' as entity_type,
        outbox.message_id as entity_id,
        outbox.step || ' for deduction ' || outbox.deduction_id || ' to '
            || outbox.to_email || ' is ' || outbox.status
            || coalesce(': ' || outbox.last_error, '') as message,
        outbox.amount_claimed as amount,
        outbox.deduction_id,
        cast(null as varchar) as owner,
        cast(null as varchar) as source_file,
        cast(null as varchar) as source_position,
        outbox.as_of_date as detected_date,
        outbox.status as detail_key
    from outbox
    where outbox.status in ('unknown', 'failed')
),

quality as (
    select
        'data_quality' as exception_type,
        dq_failures.severity,
        dq_failures.entity_type,
        dq_failures.entity_id,
        dq_failures.message,
        cast(null as decimal(18, 2)) as amount,
        case
            when dq_failures.entity_type = 'deduction' then dq_failures.entity_id
        end as deduction_id,
        cast(null as varchar) as owner,
        dq_failures.table_name as source_file,
        dq_failures.column_name as source_position,
        cast(dq_failures.detected_at as date) as detected_date,
        dq_failures.check_id as detail_key
    from dq_failures
),

unioned as (
    select * from ingest_exceptions
    union all
    select * from repeated_payments
    union all
    select * from unpaired_reversals
    union all
    select * from line_exceptions
    union all
    select * from allocation_exceptions
    union all
    select * from over_explained
    union all
    select * from payment_exceptions
    union all
    select * from unapplied
    union all
    select * from deduction_reviews
    union all
    select * from deadlines
    union all
    select * from deadlines_passed
    union all
    select * from undelivered
    union all
    select * from quality
),

final as (
    select
        {{ stable_id('EXC', [
            'exception_type',
            "coalesce(entity_id, '')",
            "coalesce(detail_key, '')",
        ]) }} as exception_id,
        unioned.exception_type,
        unioned.severity,
        unioned.entity_type,
        unioned.entity_id,
        unioned.message,
        cast(unioned.amount as decimal(18, 2)) as amount,
        unioned.deduction_id,
        unioned.owner,
        unioned.source_file,
        unioned.source_position,
        unioned.detected_date,
        cast(unioned.detected_date as timestamp) as detected_at,
        unioned.detail_key
    from unioned
)

select * from final
