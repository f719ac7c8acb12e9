-- One row per line of a customer's debit memo (the claim behind a deduction).
with

source as (
    select * from {{ source('raw', 'debit_memos') }}
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
