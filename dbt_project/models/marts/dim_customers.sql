-- One row per customer, with its parent and accounts-receivable contact.
with

customers as (
    select * from {{ ref('stg_customers') }}
),

final as (
    select
        customer_id,
        customer_name,
        parent_customer_id,
        ar_contact_email,
        ar_contact_name,
        country,
        reason_code_set
    from customers
)

select * from final
