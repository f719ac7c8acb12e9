-- One row per posted payment, with the paying customer resolved: the
-- customer id the file names, else a customer whose id or name equals the
-- payer's. Payments reversed by a later reversal entry are marked.
with

payments as (
    select * from {{ ref('stg_payments') }}
    where not is_repeated_id
),

customers as (
    select customer_id, customer_name from {{ ref('stg_customers') }}
),

by_name as (
    select
        upper(trim(customer_name)) as name_key,
        min(customer_id) as customer_id,
        count(*) as customer_count
    from customers
    group by upper(trim(customer_name))
),

reversals as (
    select distinct trace_number, payment_amount
    from payments
    where is_reversal and trace_number is not null
),

resolved as (
    select
        payments.*,
        coalesce(
            named.customer_id,
            by_payer_id.customer_id,
            case when by_name.customer_count = 1 then by_name.customer_id end
        ) as resolved_customer_id,
        case
            when named.customer_id is not null then 'customer_id'
            when by_payer_id.customer_id is not null then 'payer_id'
            when by_name.customer_count = 1 then 'payer_name'
        end as customer_resolution
    from payments
    left join customers as named
        on payments.customer_id = named.customer_id
    left join customers as by_payer_id
        on payments.payer_id = by_payer_id.customer_id
    left join by_name
        on upper(trim(payments.payer_name)) = by_name.name_key
),

final as (
    select
        resolved.*,
        (
            not resolved.is_reversal
            and reversals.trace_number is not null
        ) as is_reversed
    from resolved
    left join reversals
        on resolved.trace_number = reversals.trace_number
        and resolved.payment_amount = reversals.payment_amount
)

select * from final
