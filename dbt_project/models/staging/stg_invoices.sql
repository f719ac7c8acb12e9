-- One row per invoice and customer (an invoice id is unique within a
-- customer). When several files carry the same key, the row from the file
-- loaded last wins.
with

latest as (
    {{ latest_rows('invoices', 'invoice_id, customer_id') }}
),

final as (
    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        upper(currency) as currency,
        total_amount,
        po_number,
        upper(trim(payment_terms)) as payment_terms,
        bill_to_name,
        coalesce(is_disputed, false) as is_disputed,
        source_file,
        file_hash,
        source_position
    from latest
)

select * from final
