-- One row per remittance line: the invoice it was matched to, by which
-- method, or why it was not matched (no candidate, or several equally good
-- candidates). Nothing is guessed: a tie is `ambiguous`.
with

lines as (
    select * from {{ ref('int_remittance_lines_prepared') }}
),

candidates as (
    select * from {{ ref('int_match_candidates') }}
),

invoices as (
    select invoice_id, customer_id, currency from {{ ref('int_invoices_prepared') }}
),

-- The payer's own invoice beats one of its family at the same method.
scored as (
    select
        candidates.*,
        candidates.method_rank * 10
        + case
            when candidates.invoice_customer_id = lines.payer_customer_id then 0
            else 1
        end as score
    from candidates
    inner join lines
        on candidates.payment_id = lines.payment_id
        and candidates.file_hash = lines.file_hash
        and candidates.line_number = lines.line_number
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
        best.match_method,
        coalesce(best.candidate_count, 0) as candidate_count,
        cast(
            case best.method_rank
                when 1 then 1.00
                when 2 then 0.98
                when 3 then 0.95
                when 4 then 0.90
                when 5 then 0.85
                when 6 then 0.80
            end as decimal(3, 2)
        ) as match_confidence,
        case
            when lines.is_void then 'void'
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
)

select * from final
