-- The payments whose remittance lines an incremental build matches again:
-- - payments in files that no earlier build took in;
-- - payments from an account that such a payment uses, because the
--   account's history may now name another customer;
-- - payments of an amount that a reversal cancels, when a payment above
--   has that amount, because the reversal may now cancel another payment;
-- - payments with a line that names a rebuilt invoice (int_invoice_scope)
--   by id, normalised reference or purchase-order number;
-- - payments with a line that no reference matched, when anything above
--   changed: such lines are matched among all open invoices of the payer's
--   family, by amount, near-miss reference or memo.
-- A new customer extract can change who paid any payment, so then every
-- payment is matched again. A full build leaves this table empty.

-- depends_on: {{ ref('stg_superseded_files') }}
-- depends_on: {{ ref('int_invoice_scope') }}
-- depends_on: {{ ref('int_invoice_scope_files') }}
-- depends_on: {{ ref('stg_payments') }}
-- depends_on: {{ source('raw', 'files') }}
-- depends_on: {{ source('raw', 'build_files') }}
-- depends_on: {{ source('raw', 'customers') }}
-- depends_on: {{ source('raw', 'invoices') }}

with

{% if incremental_build() %}

changed_files as (
    {{ changed_files() }}
),

payments as (
    select payment_id, file_hash, payer_account, payment_amount, is_reversal
    from {{ ref('stg_payments') }}
    where not is_repeated_id
),

customers_changed as (
    select count(*) > 0 as is_changed
    from {{ source('raw', 'customers') }}
    where file_hash in (select file_hash from changed_files)
),

new_payments as (
    select payments.*
    from payments
    cross join customers_changed
    where customers_changed.is_changed
        or payments.file_hash in (select file_hash from changed_files)
),

same_account as (
    select payments.*
    from payments
    where payer_account in (
        select payer_account from new_payments where payer_account is not null
    )
),

reversed_amounts as (
    select distinct abs(payment_amount) as amount
    from payments
    where is_reversal
),

same_amount as (
    select payment_id
    from payments
    where abs(payment_amount) in (select amount from reversed_amounts)
        and abs(payment_amount) in (
            select abs(payment_amount) from new_payments
            union
            select abs(payment_amount) from same_account
        )
),

resolution_changes as (
    select payment_id from new_payments
    union
    select payment_id from same_account
    union
    select payment_id from same_amount
),

changed_invoices as (
    select
        invoice_id,
        {{ strip_reference_prefix(alnum_upper('invoice_id')) }} as invoice_key
    from {{ ref('int_invoice_scope') }}
),

-- Every purchase-order number that any version of those invoices carried.
changed_po_numbers as (
    select distinct po_number
    from {{ source('raw', 'invoices') }}
    where invoice_id in (select invoice_id from changed_invoices)
        and file_hash in ({{ invoice_scope_files('invoices') }})
        and po_number is not null
),

previous_lines as (
    select
        payment_id,
        invoice_reference,
        reference_key,
        coalesce(
            po_number,
            case when reference_qualifier = 'PO' then invoice_reference end
        ) as po_reference
    from {{ previous_build('int_remittance_lines_prepared') }}
),

naming_changed_invoices as (
    select payment_id
    from previous_lines
    where invoice_reference in (select invoice_id from changed_invoices)
    union
    select payment_id
    from previous_lines
    where reference_key <> ''
        and reference_key in (select invoice_key from changed_invoices)
    union
    select payment_id
    from previous_lines
    where po_reference in (select po_number from changed_po_numbers)
),

anything_changed as (
    select count(*) > 0 as is_changed
    from (
        select payment_id as changed_key from resolution_changes
        union all
        select invoice_id from changed_invoices
    ) as changes
),

without_reference_match as (
    select previous_matches.payment_id
    from {{ previous_build('int_remittance_matches') }} as previous_matches
    cross join anything_changed
    where anything_changed.is_changed
        and previous_matches.match_status <> 'void'
        and (
            previous_matches.match_method is null
            or previous_matches.match_method
            not in ('exact_reference', 'normalised_reference', 'po_number')
        )
),

final as (
    select payment_id from resolution_changes
    union
    select payment_id from naming_changed_invoices
    union
    select payment_id from without_reference_match
)

{% else %}

{{ empty_scope('payment_id') }}

{% endif %}

select * from final
