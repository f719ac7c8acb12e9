"""DuckDB SQL that decides payments and deductions and builds remittance rows.

The tables built here are also the source of the truth files, so what the
generator writes and what it claims to have written come from one place.
Validity follows the evidence the generator itself wrote: promotions and
their caps, agreed prices, shipments and payment terms. Categories that need
evidence outside the inbox (damage, returns, freight, tax, compliance fines,
unidentified) are ``needs_review`` with no valid or invalid amount.
"""

from __future__ import annotations

PLAN = """
create or replace table plan as
with draws as (
    select
        t.*,
        rnd('paid', t.i) < getvariable('paid_rate') as is_paid,
        case
            when t.payment_terms = '2/10 NET 30'
                then rnd('deducted', t.i) < getvariable('discount_taken_rate')
            else rnd('deducted', t.i) < getvariable('deduction_rate')
        end as is_deducted,
        rnd('category_evidence', t.i) as evidence_draw,
        rnd('category', t.i) as category_draw,
        rnd('validity', t.i) as validity_draw,
        rnd('amount', t.i) as amount_draw,
        pick('code_variant', t.i, 2) as code_variant
    from invoice_totals as t
),

categorised as (
    select
        *,
        case
            when not is_deducted then null
            when payment_terms = '2/10 NET 30' then 'early_pay_discount'
            when reason_code_set = 'retail_a' and category_draw >= 0.60 then 'compliance_fine'
            when short_amount > 0 and evidence_draw < 0.35 then 'shortage'
            when over_amount > 0 and evidence_draw >= 0.35 and evidence_draw < 0.70
                then 'pricing'
            when category_draw < 0.30 then 'trade_promotion'
            when category_draw < 0.40 then 'shortage'
            when category_draw < 0.52 then 'damage'
            when category_draw < 0.62 then 'returns'
            when category_draw < 0.69 then 'freight'
            when category_draw < 0.73 then 'tax'
            when category_draw < 0.85 then 'damage'
            else 'unidentified'
        end as category,
        -- a share of the invoice total for categories without a formula
        greatest(
            1.00,
            round(total_amount * (200 + pick('share', i, 1300))::decimal(18, 0) * 0.0001, 2)
        )::decimal(18, 2) as share_amount,
        round(total_amount * 0.02, 2)::decimal(18, 2) as discount_2pct,
        (5 + pick('promo_rate', i, 196))::decimal(18, 0) * 0.01 as promo_rate,
        rnd('promo_kind', i) < 0.30 as is_sku_promotion
    from draws
),

amounts as (
    select
        *,
        case
            when category = 'early_pay_discount' then
                case
                    when validity_draw < getvariable('earned_discount_share') then 'earned'
                    when validity_draw < getvariable('earned_discount_share')
                        + getvariable('late_discount_share') then 'late'
                    else 'excess'
                end
        end as discount_case,
        round(promo_rate * line1_quantity, 2)::decimal(18, 2) as sku_promo_cap
    from categorised
),

decided as (
    select
        *,
        case category
            when 'early_pay_discount' then
                case when discount_case = 'excess'
                    then round(total_amount * 0.03, 2) else discount_2pct end
            when 'pricing' then
                case when validity_draw < getvariable('valid_rate') then over_amount
                    else over_amount + round(total_amount * 0.01, 2) + 1.00 end
            when 'shortage' then
                case when short_amount > 0 then short_amount
                    else least(round(line1_unit_price, 2), round(total_amount / 2, 2)) end
            when 'trade_promotion' then
                case
                    when is_sku_promotion and validity_draw < getvariable('valid_rate')
                        then sku_promo_cap
                    when is_sku_promotion then sku_promo_cap + round(sku_promo_cap * 0.5, 2) + 0.01
                    else share_amount
                end
            else share_amount
        end::decimal(18, 2) as deduction_amount,
        case category
            when 'trade_promotion' then
                case
                    when is_sku_promotion then sku_promo_cap
                    when validity_draw < getvariable('valid_rate')
                        then share_amount + 100 * (1 + pick('cap_room', i, 5))
                    else round(share_amount * 0.6, 2)
                end
        end::decimal(18, 2) as promotion_cap
    from amounts
),

validated as (
select
    *,
    case category
        when 'early_pay_discount' then case when discount_case = 'earned' then 'valid' else 'invalid' end
        when 'pricing' then case when deduction_amount = over_amount then 'valid' else 'invalid' end
        when 'shortage' then case when short_amount > 0 then 'valid' else 'invalid' end
        when 'trade_promotion' then
            case when deduction_amount <= promotion_cap then 'valid' else 'invalid' end
        else 'needs_review'
    end as validity,
    case category
        when 'early_pay_discount' then
            case discount_case when 'earned' then deduction_amount when 'excess' then discount_2pct
                else 0.00 end
        when 'pricing' then over_amount
        when 'shortage' then case when short_amount > 0 then deduction_amount else 0.00 end
        when 'trade_promotion' then least(deduction_amount, promotion_cap)
        else 0.00
    end::decimal(18, 2) as valid_amount,
    case category
        when 'damage' then ['04', 'F1'][1 + code_variant]
        when 'returns' then ['11', '72'][1 + code_variant]
        when 'shortage' then ['59', '75'][1 + code_variant]
        when 'trade_promotion' then ['56', 'A8'][1 + code_variant]
        when 'compliance_fine' then ['OTIF', 'LBL'][1 + code_variant]
        when 'pricing' then '01'
        when 'freight' then '54'
        when 'tax' then '55'
        when 'early_pay_discount' then '90'
        when 'unidentified' then [null, 'ZZ'][1 + code_variant]
    end as reason_code,
    -- days from invoice date to payment
    case
        when discount_case in ('earned', 'excess') then 1 + pick('delay', i, 10)
        when discount_case = 'late' then 12 + pick('delay', i, 19)
        when payment_terms = '2/10 NET 30' then 11 + pick('delay', i, 20)
        else 5 + pick('delay', i, 26)
    end::integer as payment_delay
from decided
)

select
    * replace (
        case when category is not null then deduction_amount end as deduction_amount,
        case when category is not null then valid_amount end as valid_amount,
        case when category is not null then promotion_cap end as promotion_cap
    ),
    case when category is not null then
        case when validity = 'needs_review' then 0.00 else deduction_amount - valid_amount end
    end::decimal(18, 2) as invalid_amount,
    -- a partial payment: 40 % now, the rest in a later payment
    (
        category is null and payment_terms <> '2/10 NET 30'
        and rnd('partial', i) < getvariable('partial_payment_rate')
    ) as is_partial
from validated
"""

PLAN_AMOUNTS = """
create or replace table plan_final as
select
    p.*,
    case when p.category = 'trade_promotion'
        then 'PR-' || (1000 + row_number() over (
            partition by p.category = 'trade_promotion' order by p.i))::varchar
    end as promotion_id
from plan as p
"""

PROMOTIONS = """
create or replace table promotions as
with claimed as (
    select
        promotion_id,
        customer_id,
        invoice_date - pick('promo_start', i, 30)::integer as start_date,
        invoice_date + (10 + pick('promo_end', i, 40))::integer as end_date,
        case when is_sku_promotion
            then ['scan', 'off_invoice', 'mcb'][1 + pick('promo_type', i, 3)]
            else ['off_invoice', 'bill_back', 'scan', 'coop', 'slotting', 'mcb']
                [1 + pick('promo_type', i, 6)]
        end as promotion_type,
        promotion_cap as amount_cap,
        case when is_sku_promotion then line1_sku end as sku,
        case when is_sku_promotion then promo_rate::decimal(18, 6) end as rate_per_unit,
        i as sort_key
    from plan_final
    where category = 'trade_promotion' and is_paid
),

unclaimed as (
    -- promotions that no remittance uses, one for every fourth customer
    select
        'PR-' || (900 - c.i // 4)::varchar as promotion_id,
        c.customer_id,
        date '2026-09-01' as start_date,
        date '2026-12-31' as end_date,
        ['coop', 'slotting', 'bill_back'][1 + pick('promo_type_unused', c.i, 3)]
            as promotion_type,
        (500 + 100 * pick('unused_cap', c.i, 20))::decimal(18, 2) as amount_cap,
        null as sku,
        null::decimal(18, 6) as rate_per_unit,
        -1 - c.i as sort_key
    from customers as c
    where c.i % 4 = 0 and c.i < 3600
)

select * from unclaimed
union all
select * from claimed
"""

GROUPS = """
create or replace table paid_invoices as
with paid as (
    select
        p.*,
        row_number() over w as customer_position,
        lag(p.payment_terms) over w as previous_terms
    from plan_final as p
    where p.is_paid
    window w as (partition by p.customer_id order by p.invoice_date, p.i)
),

starts as (
    select
        *,
        (
            (customer_position - 1) % getvariable('max_group_size') = 0
            or payment_terms = '2/10 NET 30'
            or coalesce(previous_terms = '2/10 NET 30', false)
            or rnd('group_start', i) < getvariable('group_start_rate')
        )::integer as is_group_start
    from paid
)

select
    *,
    sum(is_group_start) over (
        partition by customer_id order by customer_position
        rows between unbounded preceding and current row
    ) as group_number,
    least(invoice_date + payment_delay, getvariable('as_of')::date) as wanted_payment_date
from starts
"""

PAYMENTS = """
create or replace table payment_groups as
with grouped as (
    select
        customer_id,
        group_number,
        max(customer_index) as customer_index,
        max(customer_name) as customer_name,
        bool_or(is_edi) as is_edi,
        max(wanted_payment_date) as payment_date,
        count(*) as invoice_count
    from paid_invoices
    group by customer_id, group_number
)

select
    *,
    'PMT' || lpad(
        row_number() over (order by payment_date, customer_id, group_number)::varchar, 7, '0'
    ) as payment_id
from grouped
"""

REMITTANCE_LINES = """
create or replace table remittance_lines as
with joined as (
    select
        g.payment_id,
        g.payment_date,
        g.is_edi,
        g.customer_name,
        p.*,
        row_number() over (partition by g.payment_id order by p.i) as line_number,
        rnd('hostile_reference', p.i) as reference_draw
    from paid_invoices as p
    inner join payment_groups as g
        on p.customer_id = g.customer_id and p.group_number = g.group_number
)

select
    payment_id,
    line_number,
    customer_id,
    customer_name as payer_name,
    payment_date,
    is_edi,
    invoice_id,
    i as invoice_index,
    case
        when reference_draw < getvariable('missing_reference_rate') then null
        when reference_draw < getvariable('missing_reference_rate') * 2 then po_number
        when reference_draw < getvariable('missing_reference_rate') * 2
            + getvariable('typo_rate') then typo(invoice_id)
        when rnd('noise', i) >= getvariable('reference_noise_rate') then invoice_id
        else ['INV-', '#', '00', 'inv'][1 + pick('noise_kind', i, 4)] || invoice_id
    end as invoice_reference,
    total_amount as invoice_amount,
    payment_terms,
    case
        when is_partial then round(total_amount * 0.4, 2)
        else total_amount - coalesce(deduction_amount, 0.00)
    end::decimal(18, 2) as paid_amount,
    category,
    reason_code,
    deduction_amount,
    valid_amount,
    invalid_amount,
    validity,
    promotion_id,
    case category
        when 'trade_promotion' then 'PROMO ' || promotion_id
        when 'pricing' then 'PRICE DIFFERENCE'
        when 'shortage' then 'SHORT SHIPPED'
        when 'damage' then 'DAMAGED IN TRANSIT'
        when 'returns' then 'RETURNED GOODS'
        when 'freight' then 'FREIGHT CHARGE'
        when 'tax' then 'SALES TAX'
        when 'compliance_fine' then
            case reason_code when 'OTIF' then 'OTIF FINE' else 'LABEL FINE' end
        when 'early_pay_discount' then 'TERMS DISCOUNT'
        else case when is_partial then 'PARTIAL PAYMENT' end
    end as adjustment_memo,
    case when is_partial then 'partial' else 'invoice' end as row_kind
from joined
"""
