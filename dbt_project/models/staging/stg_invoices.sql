-- One row per invoice (an invoice id is unique within a customer); when several files carry the same key, the row from
-- the file loaded last wins.
with

source as (
    select * from {{ source('raw', 'invoices') }}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by invoice_id, customer_id
            order by files.loaded_at desc, source.source_file desc
        ) as version_rank
    from source
    left join files on source.file_hash = files.file_hash
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
    from ranked
    where version_rank = 1
)

select * from final
