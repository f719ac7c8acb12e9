-- One row per calendar month that has invoices or deductions: the measures
-- of the trade as the glossary in docs/measures.md defines them.
with

deductions as (
    select
        fct_deductions.*,
        {{ month_start('opened_date') }} as opened_month,
        cast(resolved_at as date) as resolved_date,
        cast(coalesce(first_decided_at, cast(opened_date as timestamp)) as date)
            as decided_date
    from {{ ref('fct_deductions') }} as fct_deductions
),

invoices as (
    select * from {{ ref('fct_invoices') }}
),

payments as (
    select * from {{ ref('fct_payments') }}
    where not (is_reversal or is_reversed)
),

lines as (
    select match_status, payment_date from {{ ref('int_remittance_matches') }}
),

-- Every month in which a deduction opened, was decided or was resolved,
-- or an invoice was dated: a month with only decisions still has its rates.
months as (
    select distinct opened_month as period_start from deductions
    union
    select distinct {{ month_start('decided_date') }} from deductions
    union
    select distinct {{ month_start('resolved_date') }} from deductions
    where resolved_date is not null
    union
    select distinct {{ month_start('invoice_date') }} from invoices
),

periods as (
    select
        period_start,
        last_day(period_start) as period_end,
        {{ days_between('period_start', 'last_day(period_start)') }} + 1
            as days_in_period
    from months
),

taken as (
    select
        periods.period_start,
        sum(case when deductions.opened_month = periods.period_start
            then deductions.deduction_amount else 0 end) as deductions_taken,
        sum(case when deductions.opened_month = periods.period_start
            and deductions.is_auto_approved
            then deductions.deduction_amount else 0 end) as auto_written_off,
        sum(case
            when deductions.opened_date <= periods.period_end
                and (
                    deductions.resolved_date > periods.period_end
                    or (
                        deductions.resolved_date is null
                        and deductions.status
                        not in ('recovered', 'written_off', 'closed')
                    )
                )
                then deductions.deduction_amount
            else 0
        end) as open_deductions,
        sum(case when deductions.decided_date between periods.period_start
            and periods.period_end and deductions.validity <> 'needs_review'
            then deductions.valid_amount else 0 end) as decided_valid,
        sum(case when deductions.decided_date between periods.period_start
            and periods.period_end and deductions.validity <> 'needs_review'
            then deductions.invalid_amount else 0 end) as decided_invalid,
        sum(case when deductions.status = 'recovered'
            and deductions.resolved_date between periods.period_start
            and periods.period_end
            then deductions.invalid_amount else 0 end) as recovered,
        sum(case when deductions.status in ('recovered', 'written_off', 'closed')
            and deductions.resolved_date between periods.period_start
            and periods.period_end
            then deductions.invalid_amount else 0 end) as closed_invalid
    from periods
    cross join deductions
    group by periods.period_start
),

invoiced as (
    select
        {{ month_start('invoice_date') }} as period_start,
        sum(total_amount) as invoiced_amount
    from invoices
    group by {{ month_start('invoice_date') }}
),

-- Invoices for which a person had to look at a deduction: one that needs
-- review, or one that someone decided.
reviewed_invoices as (
    select
        invoice_id,
        customer_id,
        max(case
            when validity = 'needs_review' or first_decided_at is not null then 1
            else 0
        end) as needs_person
    from deductions
    where invoice_id is not null
    group by invoice_id, customer_id
),

-- An invoice is matched automatically when it is fully settled and no
-- deduction of it needed a person.
invoice_matching as (
    select
        {{ month_start('invoices.last_payment_date') }} as period_start,
        count(*) as invoices_paid,
        sum(case
            when invoices.open_amount = 0
                and coalesce(reviewed_invoices.needs_person, 0) = 0
                then 1
            else 0
        end) as invoices_closed
    from invoices
    left join reviewed_invoices
        on invoices.invoice_id = reviewed_invoices.invoice_id
        and invoices.customer_id = reviewed_invoices.customer_id
    where invoices.last_payment_date is not null
    group by {{ month_start('invoices.last_payment_date') }}
),

payment_matching as (
    select
        {{ month_start('payment_date') }} as period_start,
        count(*) as payment_count,
        sum(case when unapplied_amount = 0
            and coalesce(remittance_stated_amount, payment_amount) = payment_amount
            then 1 else 0 end) as payments_auto_matched
    from payments
    group by {{ month_start('payment_date') }}
),

line_matching as (
    select
        {{ month_start('payment_date') }} as period_start,
        count(*) as remittance_line_count,
        sum(case when match_status = 'matched' then 1 else 0 end) as lines_matched
    from lines
    group by {{ month_start('payment_date') }}
),

final as (
    select
        periods.period_start,
        periods.period_end,
        cast(coalesce(invoiced.invoiced_amount, 0) as decimal(18, 2)) as invoiced_amount,
        cast(taken.deductions_taken as decimal(18, 2)) as deductions_taken,
        {{ ratio('taken.deductions_taken', 'invoiced.invoiced_amount') }}
            as deductions_pct_of_sales,
        cast(taken.open_deductions as decimal(18, 2)) as open_deductions,
        {{ ratio(
            'taken.open_deductions * periods.days_in_period',
            'taken.deductions_taken',
            2
        ) }} as deduction_days_outstanding,
        {{ ratio('taken.decided_invalid', 'taken.decided_valid + taken.decided_invalid') }}
            as invalid_rate,
        cast(taken.recovered as decimal(18, 2)) as recovered_amount,
        {{ ratio('taken.recovered', 'taken.closed_invalid') }} as recovery_rate,
        cast(taken.auto_written_off as decimal(18, 2)) as auto_written_off_amount,
        {{ ratio('taken.auto_written_off', 'taken.deductions_taken') }}
            as auto_write_off_rate,
        coalesce(payment_matching.payment_count, 0) as payment_count,
        {{ ratio('payment_matching.payments_auto_matched', 'payment_matching.payment_count') }}
            as auto_match_rate_payments,
        coalesce(invoice_matching.invoices_paid, 0) as invoices_paid,
        {{ ratio('invoice_matching.invoices_closed', 'invoice_matching.invoices_paid') }}
            as auto_match_rate_invoices,
        coalesce(line_matching.remittance_line_count, 0) as remittance_line_count,
        {{ ratio('line_matching.lines_matched', 'line_matching.remittance_line_count') }}
            as auto_match_rate_lines
    from periods
    inner join taken on periods.period_start = taken.period_start
    left join invoiced on periods.period_start = invoiced.period_start
    left join invoice_matching on periods.period_start = invoice_matching.period_start
    left join payment_matching on periods.period_start = payment_matching.period_start
    left join line_matching on periods.period_start = line_matching.period_start
)

select * from final
