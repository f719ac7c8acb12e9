-- One row per deduction with its validity decided against the evidence and
-- the rules: valid and invalid amounts, the reason in words, the rule that
-- decided, the line it is attributed to, its deadline and its owner.
{% set claimed_before_text -%}
    case
        when claimed_before_amount > 0
            then ', of which earlier deductions used '
                || {{ amount_text('claimed_before_amount') }}
        else ''
    end
{%- endset %}


{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('deduction_id', 'int_deduction_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_deduction_scope') }}

with

deductions as (
    select * from {{ ref('int_deductions_classified') }}
    where {{ in_build_scope('deduction_id', 'int_deduction_scope') }}
),

payments as (
    select payment_id, file_hash, payment_date, value_date, currency
    from {{ ref('int_payments_resolved') }}
    where payment_id in (select payment_id from deductions)
),

-- The evidence is read for the deductions' invoices only, because an
-- incremental build decides a few of them.
invoices as (
    select * from {{ ref('int_invoices_prepared') }}
    where invoice_id in (select invoice_id from deductions)
),

invoice_evidence as (
    select * from {{ ref('int_invoice_evidence') }}
    where invoice_id in (select invoice_id from deductions)
),

-- Invoice lines, shipments and prices name an invoice by its id alone, so
-- the evidence of an id that several customers use is not attributable.
shared_invoice_ids as (
    select invoice_id
    from invoices
    group by invoice_id
    having count(*) > 1
),

line_evidence as (
    select * from {{ ref('int_invoice_line_evidence') }}
    where invoice_id in (select invoice_id from deductions)
),

promotion_usage as (
    select * from {{ ref('int_promotion_usage') }}
),

policies as (
    select * from {{ source('rules', 'category_policies') }}
),

settings as (
    select
        max(case when key = 'discount_payment_date' then value end)
            as discount_payment_date,
        max(case when key = 'discount_grace_days' then value end)
            as discount_grace_days
    from {{ source('rules', 'settings') }}
),

joined as (
    select
        deductions.*,
        payments.payment_date,
        payments.currency,
        invoices.invoice_date,
        invoices.total_amount as invoice_total_amount,
        invoices.payment_terms,
        invoices.discount_percent,
        invoices.discount_days,
        {{ days_between(
            'invoices.invoice_date',
            "case when settings.discount_payment_date = 'received_date'"
            ~ " then coalesce(payments.value_date, payments.payment_date)"
            ~ " else payments.payment_date end"
        ) }} as days_to_payment,
        coalesce({{ try_cast_to('settings.discount_grace_days', 'integer') }}, 0)
            as discount_grace_days,
        promotion_usage.promotion_id,
        promotion_usage.amount_cap as promotion_cap_amount,
        promotion_usage.cap_used_before_amount,
        coalesce(line_evidence.pod_reference, invoice_evidence.pod_references)
            as pod_references,
        case
            when deductions.invoice_line_number is not null
                then case when line_evidence.has_proof_of_delivery then 1 else 0 end
            else coalesce(invoice_evidence.pod_line_count, 0)
        end as pod_line_count,
        coalesce(
            case
                when deductions.invoice_line_number is not null
                    then line_evidence.undelivered_amount
            end,
            invoice_evidence.undelivered_amount
        ) as undelivered_amount,
        case
            when deductions.invoice_line_number is not null
                then case when line_evidence.has_agreed_price then 1 else 0 end
            else coalesce(invoice_evidence.priced_line_count, 0)
        end as priced_line_count,
        coalesce(
            case
                when deductions.invoice_line_number is not null
                    then line_evidence.overcharged_amount
            end,
            invoice_evidence.overcharged_amount
        ) as overcharged_amount,
        invoice_evidence.undelivered_line_count,
        invoice_evidence.undelivered_line_number,
        invoice_evidence.overcharged_line_count,
        invoice_evidence.overcharged_line_number,
        shared_invoice_ids.invoice_id is not null as is_shared_invoice_id,
        policies.rule_id as policy_rule_id,
        coalesce(policies.allowed, true) as is_category_allowed,
        coalesce(policies.default_validity, 'needs_review') as default_validity
    from deductions
    inner join payments
        on deductions.payment_id = payments.payment_id
        and deductions.file_hash = payments.file_hash
    left join invoices
        on deductions.invoice_id = invoices.invoice_id
        and deductions.customer_id = invoices.customer_id
    left join invoice_evidence
        on deductions.invoice_id = invoice_evidence.invoice_id
    left join line_evidence
        on deductions.invoice_id = line_evidence.invoice_id
        and deductions.invoice_line_number = line_evidence.line_number
    left join promotion_usage
        on deductions.deduction_id = promotion_usage.deduction_id
    left join shared_invoice_ids
        on deductions.invoice_id = shared_invoice_ids.invoice_id
    left join policies on deductions.category = policies.category
    cross join settings
),

-- Deductions of one invoice, category and line share its delivery or price
-- evidence: in payment order, each may use only what earlier ones left. A
-- payment-level deduction has no invoice evidence to share.
evidence_claims as (
    select
        joined.*,
        case
            when invoice_id is null then cast(0 as decimal(18, 2))
            else coalesce(
                sum(deduction_amount) over (
                    partition by invoice_id, category, invoice_line_number
                    order by payment_date, deduction_id
                    rows between unbounded preceding and 1 preceding
                ),
                0
            )
        end as claimed_before_amount
    from joined
),

-- The amount the evidence supports, or null when nothing decides it.
supported as (
    select
        evidence_claims.*,
        cast(
            round(invoice_total_amount * discount_percent * 0.01, 2)
            as decimal(18, 2)
        ) as earned_discount_limit,
        case
            when not is_category_allowed then 0
            when category = 'trade_promotion' and promotion_id is not null
                then greatest(promotion_cap_amount - cap_used_before_amount, 0)
            when category = 'trade_promotion' and invoice_id is not null then 0
            when category in ('shortage', 'pricing') and is_shared_invoice_id then null
            when category = 'shortage' and pod_line_count > 0
                then greatest(undelivered_amount - claimed_before_amount, 0)
            when category = 'pricing' and priced_line_count > 0
                then greatest(overcharged_amount - claimed_before_amount, 0)
            when category = 'early_pay_discount' and invoice_id is not null
                then case
                    when discount_percent is null then 0
                    when days_to_payment > discount_days + discount_grace_days then 0
                    else round(invoice_total_amount * discount_percent * 0.01, 2)
                end
            when category in ('shortage', 'pricing', 'early_pay_discount',
                'trade_promotion', 'unidentified') then null
            when default_validity = 'valid' then deduction_amount
            when default_validity = 'invalid' then 0
        end as supported_amount
    from evidence_claims
),

decided as (
    select
        supported.*,
        case
            when supported_amount is null then 'needs_review'
            when supported_amount >= deduction_amount then 'valid'
            else 'invalid'
        end as evidence_validity,
        cast(
            case
                when supported_amount is null then 0
                else least(deduction_amount, supported_amount)
            end as decimal(18, 2)
        ) as evidence_valid_amount
    from supported
),

explained as (
    select
        decided.*,
        case
            when not is_category_allowed
                then replace(category, '_', ' ')
                    || ' deductions are not accepted under the agreed terms (rule '
                    || policy_rule_id || ')'
            when category = 'trade_promotion' and promotion_id is not null
                then 'promotion ' || promotion_id || ' covers '
                    || {{ amount_text('evidence_valid_amount') }} || ' of '
                    || {{ amount_text('deduction_amount') }}
                    || case
                        when evidence_valid_amount < deduction_amount
                            then '; '
                            || {{ amount_text('deduction_amount - evidence_valid_amount') }}
                            || ' is over its cap of '
                            || {{ amount_text('promotion_cap_amount') }}
                        else ''
                    end
            when category = 'trade_promotion' and invoice_id is not null
                then 'no promotion of customer ' || customer_id
                    || ' is named in the remittance or alone active on '
                    || cast(invoice_date as varchar)
            when category = 'trade_promotion'
                then 'a payment-level promotion deduction needs a person to find its promotion'
            when category in ('shortage', 'pricing') and is_shared_invoice_id
                then 'invoice id ' || invoice_id
                    || ' is used by several customers and its lines, shipments and prices'
                    || ' do not say whose, so their evidence is not used'
            when category = 'shortage' and pod_line_count = 0
                then 'no proof of delivery on file for invoice ' || coalesce(invoice_id, '(none)')
            when category = 'shortage' and undelivered_amount = 0
                then 'proof of delivery ' || coalesce(pod_references, '')
                    || ' shows invoice ' || invoice_id || ' delivered in full'
            when category = 'shortage'
                then 'proof of delivery ' || coalesce(pod_references, '')
                    || ' shows ' || {{ amount_text('undelivered_amount') }}
                    || ' not delivered'
                    || {{ claimed_before_text }} || '; '
                    || {{ amount_text('evidence_valid_amount') }} || ' of '
                    || {{ amount_text('deduction_amount') }} || ' is valid'
            when category = 'pricing' and priced_line_count = 0
                then 'no agreed price on file for the lines of invoice '
                    || coalesce(invoice_id, '(none)')
            when category = 'pricing'
                then 'invoiced prices exceed the agreed prices by '
                    || {{ amount_text('overcharged_amount') }}
                    || {{ claimed_before_text }} || '; '
                    || {{ amount_text('evidence_valid_amount') }} || ' of '
                    || {{ amount_text('deduction_amount') }} || ' is valid'
            when category = 'early_pay_discount' and invoice_id is null
                then 'a payment-level discount needs a person to find its invoice'
            when category = 'early_pay_discount' and discount_percent is null
                then 'terms ' || coalesce(payment_terms, '(none)')
                    || ' carry no early-pay discount'
            when category = 'early_pay_discount'
                and days_to_payment > discount_days + discount_grace_days
                then 'paid ' || cast(days_to_payment as varchar)
                    || ' days after the invoice date; the discount window of terms '
                    || payment_terms || ' closed after '
                    || cast(discount_days as varchar) || ' days'
            when category = 'early_pay_discount'
                then 'paid ' || cast(days_to_payment as varchar)
                    || ' days after the invoice date, within terms ' || payment_terms
                    || '; earned discount is '
                    || {{ amount_text('earned_discount_limit') }}
                    || case
                        when evidence_valid_amount < deduction_amount
                            then '; ' || {{ amount_text('deduction_amount - evidence_valid_amount') }}
                            || ' taken over it'
                        else ''
                    end
            when category = 'unidentified'
                then 'no reason code the rules know explains this amount'
            else 'category ' || category || ' is ' || default_validity
                || ' by policy ' || coalesce(policy_rule_id, '(default)')
        end as evidence_reason,
        case
            when category = 'trade_promotion' then promotion_id
            when category in ('shortage', 'pricing') and is_shared_invoice_id then null
            when category = 'shortage' then pod_references
            when category = 'pricing' and priced_line_count > 0 then 'price list'
            when category = 'early_pay_discount' then payment_terms
        end as evidence_reference,
        coalesce(
            invoice_line_number,
            case
                when is_shared_invoice_id then null
                when category = 'shortage' and undelivered_line_count = 1
                    then undelivered_line_number
                when category = 'pricing' and overcharged_line_count = 1
                    then overcharged_line_number
            end
        ) as attributed_line_number,
        case
            when not is_category_allowed then policy_rule_id
            when category in ('shortage', 'pricing', 'early_pay_discount',
                'trade_promotion', 'unidentified')
                then 'evidence.' || category
            else coalesce(policy_rule_id, 'builtin.default_policy')
        end as validity_rule_id
    from decided
),

final as (
    select * from explained
)

select * from final
