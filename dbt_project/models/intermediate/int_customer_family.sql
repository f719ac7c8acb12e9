-- One row per (customer, related customer) pair: the customer itself, its
-- parent and its children. A payer may settle invoices of its family.
with

customers as (
    select customer_id, parent_customer_id from {{ ref('stg_customers') }}
),

self_pairs as (
    select customer_id, customer_id as family_customer_id from customers
),

parent_pairs as (
    select customer_id, parent_customer_id as family_customer_id
    from customers
    where parent_customer_id is not null
),

child_pairs as (
    select parent_customer_id as customer_id, customer_id as family_customer_id
    from customers
    where parent_customer_id is not null
),

final as (
    select customer_id, family_customer_id from self_pairs
    union
    select customer_id, family_customer_id from parent_pairs
    union
    select customer_id, family_customer_id from child_pairs
)

select * from final
