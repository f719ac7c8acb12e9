-- One row per (remittance line, invoice) when a line with no usable
-- reference pays exactly the sum of two or three open invoices of the
-- paying customer's family, and exactly one such combination exists at the
-- smallest size. Several equally small combinations make the line ambiguous
-- (combination_count > 1), and nothing is applied.
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
    where not is_void
        and {{ in_build_scope('payment_id', 'int_payment_scope') }}
        and payer_customer_id is not null
        and paid_amount is not null
        and paid_amount > 0
        and discount_amount = 0
        and adjustment_count = 0
),

candidates as (
    select * from {{ ref('int_match_candidates') }}
),

invoices as (
    select invoice_id, customer_id, total_amount, currency
    from {{ ref('int_invoices_prepared') }}
),

family as (
    select * from {{ ref('int_customer_family') }}
),

lines_without_candidates as (
    select lines.*
    from lines
    left join (
        select distinct payment_id, file_hash, line_number from candidates
        where {{ in_build_scope('payment_id', 'int_payment_scope') }}
    ) as matched
        on lines.payment_id = matched.payment_id
        and lines.file_hash = matched.file_hash
        and lines.line_number = matched.line_number
    where matched.payment_id is null
),

referenced as (
    select distinct invoice_id, invoice_customer_id
    from candidates
    where method_rank <= 3
),

-- Open invoices of each line's family that are smaller than the payment and
-- that no remittance names.
open_invoices as (
    select
        lines.payment_id,
        lines.file_hash,
        lines.line_number,
        lines.paid_amount,
        invoices.invoice_id,
        invoices.customer_id,
        invoices.total_amount,
        invoices.invoice_id || '|' || invoices.customer_id as invoice_key,
        count(*) over (
            partition by lines.payment_id, lines.file_hash, lines.line_number
        ) as open_count
    from lines_without_candidates as lines
    inner join family on lines.payer_customer_id = family.customer_id
    inner join invoices
        on family.family_customer_id = invoices.customer_id
        and invoices.currency = lines.payment_currency
        and invoices.total_amount < lines.paid_amount
    left join referenced
        on invoices.invoice_id = referenced.invoice_id
        and invoices.customer_id = referenced.invoice_customer_id
    where referenced.invoice_id is null
),

pairs as (
    select
        first.payment_id,
        first.file_hash,
        first.line_number,
        2 as combination_size,
        first.invoice_key || ';' || second.invoice_key as combination_key
    from open_invoices as first
    inner join open_invoices as second
        on first.payment_id = second.payment_id
        and first.file_hash = second.file_hash
        and first.line_number = second.line_number
        and second.total_amount = first.paid_amount - first.total_amount
        and second.invoice_key > first.invoice_key
),

-- Triples are searched only among a few hundred open invoices, because
-- their number grows with the cube of the invoices.
triples as (
    select
        first.payment_id,
        first.file_hash,
        first.line_number,
        3 as combination_size,
        first.invoice_key || ';' || second.invoice_key || ';' || third.invoice_key
            as combination_key
    from open_invoices as first
    inner join open_invoices as second
        on first.payment_id = second.payment_id
        and first.file_hash = second.file_hash
        and first.line_number = second.line_number
        and second.invoice_key > first.invoice_key
        and first.total_amount + second.total_amount < first.paid_amount
    inner join open_invoices as third
        on first.payment_id = third.payment_id
        and first.file_hash = third.file_hash
        and first.line_number = third.line_number
        and third.total_amount
        = first.paid_amount - first.total_amount - second.total_amount
        and third.invoice_key > second.invoice_key
    where first.open_count <= 300
),

combinations as (
    select * from pairs
    union all
    select * from triples
),

smallest as (
    select
        combinations.*,
        min(combination_size) over (
            partition by payment_id, file_hash, line_number
        ) as smallest_size
    from combinations
),

counted as (
    select
        smallest.*,
        count(*) over (
            partition by payment_id, file_hash, line_number
        ) as combination_count
    from smallest
    where combination_size = smallest_size
),

members as (
    select
        counted.payment_id,
        counted.file_hash,
        counted.line_number,
        counted.combination_size,
        counted.combination_count,
        open_invoices.invoice_id,
        open_invoices.customer_id as invoice_customer_id,
        open_invoices.total_amount
    from counted
    inner join open_invoices
        on counted.payment_id = open_invoices.payment_id
        and counted.file_hash = open_invoices.file_hash
        and counted.line_number = open_invoices.line_number
        and strpos(
            ';' || counted.combination_key || ';',
            ';' || open_invoices.invoice_key || ';'
        ) > 0
    where counted.combination_count = 1
),

ambiguous as (
    select distinct
        payment_id,
        file_hash,
        line_number,
        combination_size,
        combination_count,
        cast(null as varchar) as invoice_id,
        cast(null as varchar) as invoice_customer_id,
        cast(null as decimal(18, 2)) as total_amount
    from counted
    where combination_count > 1
),

final as (
    select * from members
    union all
    select * from ambiguous
)

select * from final
