-- One row per part of a deduction, on the invoice line it belongs to.
-- A shortage or pricing deduction is cut into parts line by line, each part
-- up to what the evidence shows on its line: the one line it is attributed
-- to, else every line of its invoice. What the evidence does not cover is a
-- last part with no line. Any other deduction is one part, on the line the
-- remittance names or on none. The parts of a deduction add up to its
-- amount.
--
-- An incremental build cuts again the deductions of int_deduction_scope,
-- which contains every deduction of each invoice it names.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('deduction_id', 'int_deduction_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_deduction_scope') }}

with

-- The deductions of fct_deductions, read from the table that decides their
-- evidence, so that this model need not wait for fct_deductions.
deductions as (
    select
        deduction_id,
        invoice_id,
        attributed_line_number as invoice_line_number,
        category,
        deduction_amount,
        evidence_reference,
        payment_date
    from {{ ref('int_deductions_validated') }}
    where {{ in_build_scope('deduction_id', 'int_deduction_scope') }}
),

lines as (
    select * from {{ ref('fct_invoice_lines') }}
    where invoice_id in (select invoice_id from deductions)
),

-- Lines name an invoice by its id alone, so the lines of an id that several
-- customers use are not attributable evidence.
shared_invoice_ids as (
    select invoice_id
    from {{ ref('int_invoices_prepared') }}
    where invoice_id in (select invoice_id from deductions)
    group by invoice_id
    having count(*) > 1
),

-- A shortage or pricing deduction on an invoice is cut by the evidence of
-- its line, or of all the invoice's lines when it has no line. Deductions
-- of the same invoice, category and line scope lie end to end on one
-- amount axis, in payment order as in int_deductions_validated, so two of
-- them never claim the same evidence.
spread as (
    select
        deductions.*,
        coalesce(cast(invoice_line_number as varchar), '*') as line_scope,
        coalesce(
            sum(deduction_amount) over (
                partition by invoice_id, category, invoice_line_number
                order by payment_date, deduction_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as claim_start,
        sum(deduction_amount) over (
            partition by invoice_id, category, invoice_line_number
            order by payment_date, deduction_id
            rows between unbounded preceding and current row
        ) as claim_end
    from deductions
    where invoice_id is not null
        and category in ('shortage', 'pricing')
        and invoice_id not in (select invoice_id from shared_invoice_ids)
),

line_evidence as (
    select
        invoice_id,
        line_number,
        'shortage' as category,
        undelivered_amount as evidence_amount,
        pod_reference as evidence_reference
    from lines
    where undelivered_amount > 0
    union all
    select
        invoice_id,
        line_number,
        'pricing' as category,
        overcharged_amount as evidence_amount,
        'price list' as evidence_reference
    from lines
    where overcharged_amount > 0
),

-- The evidence on the same axis: for the scope of all lines, line after
-- line in line order, and for the scope of one line, that line alone.
evidence_ranges as (
    select
        line_evidence.*,
        '*' as line_scope,
        coalesce(
            sum(evidence_amount) over (
                partition by invoice_id, category
                order by line_number
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as evidence_start,
        sum(evidence_amount) over (
            partition by invoice_id, category
            order by line_number
            rows between unbounded preceding and current row
        ) as evidence_end
    from line_evidence
    union all
    select
        line_evidence.*,
        cast(line_number as varchar) as line_scope,
        0 as evidence_start,
        evidence_amount as evidence_end
    from line_evidence
),

split_parts as (
    select
        spread.deduction_id,
        spread.invoice_id,
        evidence_ranges.line_number as invoice_line_number,
        least(spread.claim_end, evidence_ranges.evidence_end)
        - greatest(spread.claim_start, evidence_ranges.evidence_start) as part_amount,
        evidence_ranges.evidence_amount,
        evidence_ranges.evidence_reference,
        case
            when spread.line_scope = '*' then 'split_by_evidence' else 'single_line'
        end as attribution
    from spread
    inner join evidence_ranges
        on spread.invoice_id = evidence_ranges.invoice_id
        and spread.category = evidence_ranges.category
        and spread.line_scope = evidence_ranges.line_scope
        and evidence_ranges.evidence_start < spread.claim_end
        and evidence_ranges.evidence_end > spread.claim_start
),

covered as (
    select deduction_id, sum(part_amount) as covered_amount
    from split_parts
    group by deduction_id
),

uncovered_parts as (
    select
        spread.deduction_id,
        spread.invoice_id,
        cast(null as integer) as invoice_line_number,
        spread.deduction_amount - coalesce(covered.covered_amount, 0) as part_amount,
        cast(null as decimal(18, 2)) as evidence_amount,
        case when covered.deduction_id is null then spread.evidence_reference end
            as evidence_reference,
        'no_line' as attribution
    from spread
    left join covered on spread.deduction_id = covered.deduction_id
    where spread.deduction_amount - coalesce(covered.covered_amount, 0) > 0
),

whole_parts as (
    select
        deductions.deduction_id,
        deductions.invoice_id,
        deductions.invoice_line_number,
        deductions.deduction_amount as part_amount,
        cast(null as decimal(18, 2)) as evidence_amount,
        deductions.evidence_reference,
        case
            when deductions.invoice_line_number is null then 'no_line' else 'single_line'
        end as attribution
    from deductions
    where deductions.deduction_id not in (select deduction_id from spread)
),

parts as (
    select * from split_parts
    union all
    select * from uncovered_parts
    union all
    select * from whole_parts
),

numbered as (
    select
        parts.*,
        row_number() over (
            partition by deduction_id
            order by invoice_line_number nulls last
        ) as part_number
    from parts
),

final as (
    select
        deduction_id || '/' || cast(part_number as varchar) as deduction_part_id,
        deduction_id,
        part_number,
        invoice_id,
        invoice_line_number,
        cast(part_amount as decimal(18, 2)) as part_amount,
        cast(evidence_amount as decimal(18, 2)) as evidence_amount,
        evidence_reference,
        attribution
    from numbered
)

select * from final
