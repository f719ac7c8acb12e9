-- One row per customer. When several files carry the same key, the row from
-- the file loaded last wins.
with

latest as (
    {{ latest_rows('customers', 'customer_id') }}
),

final as (
    select
        customer_id,
        name as customer_name,
        parent_customer_id,
        lower(trim(ar_contact_email)) as ar_contact_email,
        ar_contact_name,
        country,
        reason_code_set,
        source_file,
        file_hash,
        source_position
    from latest
)

select * from final
