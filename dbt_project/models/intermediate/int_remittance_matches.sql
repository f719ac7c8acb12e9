-- One row per remittance line: the invoice it was matched to, by which
-- method, or why it was not matched (no candidate, or several equally good
-- candidates). Nothing is guessed: a tie is `ambiguous`. A line paying a
-- combination of invoices is `matched` with method `amount_combination`
-- and no invoice_id; its invoices are in int_combination_matches.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('payment_id', 'int_payment_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_payment_scope') }}

with

lines as (
    select * from {{ ref('int_remittance_lines_prepared') }}
    where {{ in_build_scope('payment_id', 'int_payment_scope') }}
),

candidates as (
    select * from {{ ref('int_match_candidates') }}
    where {{ in_build_scope('payment_id', 'int_payment_scope') }}
),

invoices as (
    select invoice_id, customer_id, currency from {{ ref('int_invoices_prepared') }}
),

family as (
    select * from {{ ref('int_customer_family') }}
),

combination_lines as (
    select
        payment_id,
        file_hash,
        line_number,
        max(combination_count) as combination_count,
        count(invoice_id) as member_count
    from {{ ref('int_combination_matches') }}
    where {{ in_build_scope('payment_id', 'int_payment_scope') }}
    group by payment_id, file_hash, line_number
),

-- At the same method the payer's own invoice beats one of its family,
-- which beats any other customer's.
scored as (
    select
        candidates.*,
        candidates.method_rank * 10
        + case
            when candidates.invoice_customer_id = lines.payer_customer_id then 0
            when family.customer_id is not null then 1
            else 2
        end as score
    from candidates
    inner join lines
        on candidates.payment_id = lines.payment_id
        and candidates.file_hash = lines.file_hash
        and candidates.line_number = lines.line_number
    left join family
        on lines.payer_customer_id = family.customer_id
        and candidates.invoice_customer_id = family.family_customer_id
),

best_score as (
    select payment_id, file_hash, line_number, min(score) as score
    from scored
    group by payment_id, file_hash, line_number
),

best as (
    select
        scored.payment_id,
        scored.file_hash,
        scored.line_number,
        min(scored.match_method) as match_method,
        min(scored.method_rank) as method_rank,
        count(distinct scored.invoice_id || '|' || scored.invoice_customer_id)
            as candidate_count,
        min(scored.invoice_id) as invoice_id,
        min(scored.invoice_customer_id) as invoice_customer_id
    from scored
    inner join best_score
        on scored.payment_id = best_score.payment_id
        and scored.file_hash = best_score.file_hash
        and scored.line_number = best_score.line_number
        and scored.score = best_score.score
    group by scored.payment_id, scored.file_hash, scored.line_number
),

final as (
    select
        lines.*,
        case when best.candidate_count = 1 then best.invoice_id end as invoice_id,
        case
            when best.candidate_count = 1 then best.invoice_customer_id
        end as invoice_customer_id,
        coalesce(
            best.match_method,
            case
                when combination_lines.combination_count = 1
                    then 'amount_combination'
            end
        ) as match_method,
        coalesce(
            best.candidate_count,
            case
                when combination_lines.combination_count = 1
                    then combination_lines.member_count
                else combination_lines.combination_count
            end,
            0
        ) as candidate_count,
        cast(
            case
                when best.method_rank = 1 then 1.00
                when best.method_rank = 2 then 0.98
                when best.method_rank = 3 then 0.95
                when best.method_rank = 4 then 0.90
                when best.method_rank = 5 then 0.85
                when best.method_rank = 6 then 0.80
                when best.method_rank = 7 then 0.70
                when combination_lines.combination_count = 1 then 0.75
            end as decimal(3, 2)
        ) as match_confidence,
        case
            when lines.is_void then 'void'
            when best.candidate_count is null
                and combination_lines.combination_count = 1 then 'matched'
            when best.candidate_count is null
                and combination_lines.combination_count > 1 then 'ambiguous'
            when best.candidate_count is null then 'unmatched'
            when best.candidate_count > 1 then 'ambiguous'
            when invoices.currency <> lines.payment_currency then 'currency_mismatch'
            else 'matched'
        end as match_status
    from lines
    left join best
        on lines.payment_id = best.payment_id
        and lines.file_hash = best.file_hash
        and lines.line_number = best.line_number
    left join invoices
        on best.invoice_id = invoices.invoice_id
        and best.invoice_customer_id = invoices.customer_id
        and best.candidate_count = 1
    left join combination_lines
        on lines.payment_id = combination_lines.payment_id
        and lines.file_hash = combination_lines.file_hash
        and lines.line_number = combination_lines.line_number
)

select * from final
