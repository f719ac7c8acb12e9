-- One row per (remittance line, candidate invoice, method). Reference
-- methods come first; fuzzy and amount-only methods are tried only for lines
-- that no reference method matched. Reference candidates are limited to the
-- paying customer's family when the payment names its payer. A payer known
-- only from the account's history does not limit them, so the invoice the
-- remittance names wins over that history.
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
),

invoices as (
    select * from {{ ref('int_invoices_prepared') }}
),

family as (
    select * from {{ ref('int_customer_family') }}
),

-- How far an amount may differ from the invoice total and still
-- corroborate it (setting match_amount_tolerance, 0.00 by default).
settings as (
    select
        coalesce(
            max(
                case
                    when key = 'match_amount_tolerance'
                        then {{ try_cast_to('value', 'decimal(18, 2)') }}
                end
            ),
            0
        ) as amount_tolerance
    from {{ source('rules', 'settings') }}
),

exact_matches as (
    select
        lines.payment_id, lines.line_number, lines.file_hash,
        invoices.invoice_id, invoices.customer_id as invoice_customer_id,
        'exact_reference' as match_method, 1 as method_rank
    from lines
    inner join invoices on lines.invoice_reference = invoices.invoice_id
),

normalised_matches as (
    select
        lines.payment_id, lines.line_number, lines.file_hash,
        invoices.invoice_id, invoices.customer_id as invoice_customer_id,
        'normalised_reference' as match_method, 2 as method_rank
    from lines
    inner join invoices on lines.reference_key = invoices.invoice_key
    where lines.reference_key <> ''
),

po_matches as (
    select
        lines.payment_id, lines.line_number, lines.file_hash,
        invoices.invoice_id, invoices.customer_id as invoice_customer_id,
        'po_number' as match_method, 3 as method_rank
    from lines
    inner join invoices
        on coalesce(
            lines.po_number,
            case when lines.reference_qualifier = 'PO' then lines.invoice_reference end
        ) = invoices.po_number
),

reference_candidates as (
    select * from exact_matches
    union all
    select * from normalised_matches
    union all
    select * from po_matches
),

in_family as (
    select reference_candidates.*
    from reference_candidates
    inner join lines
        on reference_candidates.payment_id = lines.payment_id
        and reference_candidates.file_hash = lines.file_hash
        and reference_candidates.line_number = lines.line_number
    left join family
        on lines.payer_customer_id = family.customer_id
        and reference_candidates.invoice_customer_id = family.family_customer_id
    where lines.payer_customer_id is null
        or lines.customer_resolution = 'payer_account'
        or family.customer_id is not null
),

lines_without_reference_match as (
    select lines.*
    from lines
    left join (
        select distinct payment_id, file_hash, line_number from in_family
    ) as matched
        on lines.payment_id = matched.payment_id
        and lines.file_hash = matched.file_hash
        and lines.line_number = matched.line_number
    where matched.payment_id is null
        and lines.payer_customer_id is not null
),

-- Invoices some remittance line names are not open for amount-only matches.
referenced_invoices as (
    select distinct invoice_id, invoice_customer_id from in_family
    {%- if is_incremental() %}
    -- The lines outside this build's scope keep the candidates that the
    -- last build found for them, and they name invoices too.
    union
    select invoice_id, invoice_customer_id
    from {{ this }}
    where method_rank <= 3
    {%- endif %}
),

family_invoices as (
    select
        unmatched.payment_id,
        unmatched.line_number,
        unmatched.file_hash,
        unmatched.reference_key,
        unmatched.gross_amount,
        unmatched.memo,
        invoices.invoice_id,
        invoices.invoice_key,
        invoices.customer_id as invoice_customer_id,
        invoices.total_amount,
        referenced.invoice_id is not null as is_referenced
    from lines_without_reference_match as unmatched
    inner join family on unmatched.payer_customer_id = family.customer_id
    inner join invoices on family.family_customer_id = invoices.customer_id
    left join referenced_invoices as referenced
        on invoices.invoice_id = referenced.invoice_id
        and invoices.customer_id = referenced.invoice_customer_id
),

-- A near-miss reference counts only when the amount corroborates it.
fuzzy_matches as (
    select
        payment_id, line_number, file_hash, invoice_id, invoice_customer_id,
        'fuzzy_reference' as match_method, 4 as method_rank
    from family_invoices
    cross join settings
    where length(reference_key) >= 4
        and abs(length(reference_key) - length(invoice_key)) <= 1
        and {{ edit_distance('reference_key', 'invoice_key') }} = 1
        and abs(total_amount - gross_amount) <= settings.amount_tolerance
),

memo_matches as (
    select
        payment_id, line_number, file_hash, invoice_id, invoice_customer_id,
        'memo_reference' as match_method, 5 as method_rank
    from family_invoices
    where memo is not null
        and length(invoice_id) >= 4
        and strpos(upper(memo), upper(invoice_id)) > 0
),

amount_matches as (
    select
        payment_id, line_number, file_hash, invoice_id, invoice_customer_id,
        'amount_only' as match_method, 6 as method_rank
    from family_invoices
    where total_amount = gross_amount
        and not is_referenced
),

-- An amount within the tolerance ranks below an exact one, so an exact
-- amount wins and two near ones tie.
near_amount_matches as (
    select
        payment_id, line_number, file_hash, invoice_id, invoice_customer_id,
        'amount_within_tolerance' as match_method, 7 as method_rank
    from family_invoices
    cross join settings
    where settings.amount_tolerance > 0
        and total_amount <> gross_amount
        and abs(total_amount - gross_amount) <= settings.amount_tolerance
        and not is_referenced
),

final as (
    select * from in_family
    union all
    select * from fuzzy_matches
    union all
    select * from memo_matches
    union all
    select * from amount_matches
    union all
    select * from near_amount_matches
)

select * from final
