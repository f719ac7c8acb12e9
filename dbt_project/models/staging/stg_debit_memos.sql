-- One row per line of a customer's debit memo (the claim behind a deduction).
-- A memo line sent again, in a file that replaced the first at the same path
-- or under another name, counts once: the version of the file loaded last.
with

source as (
    {{ latest_rows('debit_memos', 'memo_id, memo_line_number, customer_id, payer_id, payer_name') }}
),

final as (
    select
        memo_id,
        memo_line_number,
        memo_date,
        customer_id,
        payer_id,
        payer_name,
        nullif(trim(invoice_reference), '') as invoice_reference,
        nullif(trim(po_number), '') as po_number,
        upper(nullif(trim(reason_code), '')) as reason_code,
        cast(amount as decimal(18, 2)) as memo_amount,
        memo as customer_memo,
        currency,
        source_file,
        file_hash,
        source_position
    from source
)

select * from final
