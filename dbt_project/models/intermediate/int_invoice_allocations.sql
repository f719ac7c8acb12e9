-- One row per matched remittance line: how much of the payment was applied
-- to the invoice, which discount and withheld amounts it explains, and the
-- unexplained shortfall. A line followed by a later payment of the same
-- invoice is a partial payment: its shortfall stays open and is no
-- deduction. Lines of one invoice are taken in payment order, so
-- an invoice is never applied below zero: a second payment of a closed
-- invoice applies nothing and its money stays unapplied.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('invoice_id', 'int_allocation_scope'), ('payment_id', 'int_payment_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_allocation_scope') }}
-- depends_on: {{ ref('int_payment_scope') }}
-- depends_on: {{ ref('int_balance_scope') }}

with

matched_lines as (
    select * from {{ ref('int_remittance_matches') }}
    where match_status = 'matched'
        and {{ in_build_scope('payment_id', 'int_balance_scope') }}
),

combinations as (
    select * from {{ ref('int_combination_matches') }}
    where invoice_id is not null
        and {{ in_build_scope('invoice_id', 'int_allocation_scope') }}
),

{% set line_columns = [
    'payment_id', 'line_number', 'file_hash', 'payer_customer_id', 'payment_date',
    'invoice_reference', 'match_method', 'match_confidence', 'is_partial',
    'adjustment_count', 'source_file', 'source_position',
] %}

-- A line matched to a combination of invoices pays each of them in full.
matches as (
    select
        {% for column in line_columns %}{{ column }}, {% endfor %}
        invoice_id,
        invoice_customer_id,
        paid_amount,
        discount_amount,
        withheld_amount
    from matched_lines
    where match_method <> 'amount_combination'
        and {{ in_build_scope('invoice_id', 'int_allocation_scope') }}
    union all
    select
        {% for column in line_columns %}matched_lines.{{ column }}, {% endfor %}
        combinations.invoice_id,
        combinations.invoice_customer_id,
        combinations.total_amount as paid_amount,
        cast(0 as decimal(18, 2)) as discount_amount,
        cast(0 as decimal(18, 2)) as withheld_amount
    from matched_lines
    inner join combinations
        on matched_lines.payment_id = combinations.payment_id
        and matched_lines.file_hash = combinations.file_hash
        and matched_lines.line_number = combinations.line_number
    where matched_lines.match_method = 'amount_combination'
),

invoices as (
    select * from {{ ref('int_invoices_prepared') }}
),

settings as (
    select
        max(case when key = 'treat_short_payment_as_partial' then value end)
            as short_payment_is_partial
    from {{ source('rules', 'settings') }}
),

later_lines as (
    select
        matches.*,
        count(*) over (
            partition by invoice_id, invoice_customer_id
            order by payment_date, payment_id, line_number
            rows between 1 following and unbounded following
        ) as later_line_count
    from matches
),

-- A line is a partial payment when the remittance marks it as one, or when
-- a later line pays the same invoice: what it explains (paid, discount,
-- withheld) is taken and the rest stays open for that later line. A line
-- that explains nothing is partial too when the setting treats every such
-- short payment so.
ordered as (
    select
        later_lines.*,
        invoices.total_amount as invoice_total_amount,
        invoices.invoice_date,
        (
            later_lines.is_partial
            or later_lines.later_line_count > 0
            or (
                later_lines.adjustment_count = 0
                and later_lines.discount_amount = 0
                and lower(coalesce(settings.short_payment_is_partial, 'false')) = 'true'
            )
        ) as is_partial_payment
    from later_lines
    inner join invoices
        on later_lines.invoice_id = invoices.invoice_id
        and later_lines.invoice_customer_id = invoices.customer_id
    cross join settings
),

-- A line that is not a partial payment settles the invoice in full (paid,
-- explained or unexplained), so later lines find nothing open. A line with
-- a negative paid amount is a credit the customer takes, such as a credit
-- note: it applies nothing and settles nothing, and the payment's
-- remittance variance (int_payment_balances) becomes the deduction.
claims as (
    select
        ordered.*,
        coalesce(paid_amount < 0, false) as is_credit_line,
        case
            when coalesce(paid_amount < 0, false) then 0
            when is_partial_payment
                then coalesce(paid_amount, 0) + discount_amount + withheld_amount
            else invoice_total_amount
        end as claimed_amount
    from ordered
),

open_before as (
    select
        claims.*,
        greatest(
            invoice_total_amount - coalesce(
                sum(claimed_amount) over (
                    partition by invoice_id, invoice_customer_id
                    order by payment_date, payment_id, line_number
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ),
            0
        ) as open_before_amount
    from claims
),

applied as (
    select
        open_before.*,
        -- A line without a paid amount pays what the invoice still owes.
        coalesce(
            paid_amount,
            greatest(open_before_amount - discount_amount - withheld_amount, 0)
        ) as line_paid_amount
    from open_before
),

capped as (
    select
        applied.*,
        case
            when is_credit_line then 0
            else least(line_paid_amount, open_before_amount)
        end as applied_amount,
        case
            when is_credit_line then 0
            else line_paid_amount - least(line_paid_amount, open_before_amount)
        end as excess_paid_amount
    from applied
),

discounts as (
    select
        capped.*,
        least(discount_amount, open_before_amount - applied_amount)
            as discount_taken_amount
    from capped
),

withheld as (
    select
        discounts.*,
        least(
            withheld_amount,
            open_before_amount - applied_amount - discount_taken_amount
        ) as withheld_taken_amount
    from discounts
),

final as (
    select
        payment_id,
        line_number,
        file_hash,
        invoice_id,
        invoice_customer_id,
        payer_customer_id,
        payment_date,
        invoice_date,
        match_method,
        match_confidence,
        invoice_reference,
        is_partial_payment,
        invoice_total_amount,
        cast(open_before_amount as decimal(18, 2)) as open_before_amount,
        cast(line_paid_amount as decimal(18, 2)) as line_paid_amount,
        cast(applied_amount as decimal(18, 2)) as applied_amount,
        cast(excess_paid_amount as decimal(18, 2)) as excess_paid_amount,
        cast(discount_taken_amount as decimal(18, 2)) as discount_taken_amount,
        cast(withheld_taken_amount as decimal(18, 2)) as withheld_taken_amount,
        cast(
            discount_amount - discount_taken_amount
            + withheld_amount - withheld_taken_amount
            as decimal(18, 2)
        ) as over_explained_amount,
        cast(
            case
                when is_partial_payment or is_credit_line then 0
                else open_before_amount - applied_amount
                    - discount_taken_amount - withheld_taken_amount
            end as decimal(18, 2)
        ) as unexplained_amount,
        source_file,
        source_position
    from withheld
)

select * from final
