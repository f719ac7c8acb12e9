-- One row per posted payment, with the paying customer resolved: the
-- customer id the file names, else a customer whose id or name equals the
-- payer's, else the one customer that other payments from the same payer
-- account were resolved to. Payments reversed by a later reversal entry are
-- marked.
--
-- An incremental build computes every payment, because an account's history
-- and a reversal's match read all of them, but it writes only the payments
-- of int_payment_scope: no other payment's row can change.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_build_scope([('payment_id', 'int_payment_scope')]) }}",
    )
}}

-- depends_on: {{ ref('int_payment_scope') }}

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

identified as (
    select
        payments.payment_id,
        payments.file_hash,
        payments.payer_account,
        coalesce(
            named.customer_id,
            by_payer_id.customer_id,
            case when by_name.customer_count = 1 then by_name.customer_id end
        ) as customer_id,
        case
            when named.customer_id is not null then 'customer_id'
            when by_payer_id.customer_id is not null then 'payer_id'
            when by_name.customer_count = 1 then 'payer_name'
        end as identified_by
    from payments
    left join customers as named
        on payments.customer_id = named.customer_id
    left join customers as by_payer_id
        on payments.payer_id = by_payer_id.customer_id
    left join by_name
        on upper(trim(payments.payer_name)) = by_name.name_key
),

-- The customer an account has paid for, when the identified payments from
-- it all name the same one.
account_history as (
    select
        payer_account,
        min(customer_id) as customer_id
    from identified
    where payer_account is not null
        and customer_id is not null
    group by payer_account
    having count(distinct customer_id) = 1
),

resolved as (
    select
        payments.*,
        coalesce(identified.customer_id, account_history.customer_id)
            as resolved_customer_id,
        coalesce(
            identified.identified_by,
            case when account_history.customer_id is not null then 'payer_account' end
        ) as customer_resolution
    from payments
    inner join identified
        on payments.payment_id = identified.payment_id
        and payments.file_hash = identified.file_hash
    left join account_history
        on payments.payer_account = account_history.payer_account
),

-- A reversal cancels the latest earlier payment of the same customer,
-- currency and amount, preferring one with the same trace number. Each
-- payment is cancelled at most once.
reversal_candidates as (
    select
        reversal.payment_id as reversal_payment_id,
        original.payment_id as original_payment_id,
        original.file_hash as original_file_hash,
        row_number() over (
            partition by reversal.payment_id
            order by
                case
                    when original.trace_number = reversal.trace_number then 0 else 1
                end,
                original.payment_date desc,
                original.payment_id desc
        ) as original_rank
    from resolved as reversal
    inner join resolved as original
        on reversal.resolved_customer_id = original.resolved_customer_id
        and original.currency = reversal.currency
        and original.payment_amount = -reversal.payment_amount
        and original.payment_date <= reversal.payment_date
        and not original.is_reversal
    where reversal.is_reversal
),

reversal_pairs as (
    select
        reversal_payment_id,
        original_payment_id,
        original_file_hash,
        row_number() over (
            partition by original_payment_id, original_file_hash
            order by reversal_payment_id
        ) as reversal_rank
    from reversal_candidates
    where original_rank = 1
),

final as (
    select
        resolved.*,
        reversal_pairs.reversal_payment_id as reversed_by_payment_id,
        reversal_pairs.reversal_payment_id is not null as is_reversed,
        reverses.original_payment_id as reverses_payment_id
    from resolved
    left join reversal_pairs
        on resolved.payment_id = reversal_pairs.original_payment_id
        and resolved.file_hash = reversal_pairs.original_file_hash
        and reversal_pairs.reversal_rank = 1
    left join reversal_pairs as reverses
        on resolved.payment_id = reverses.reversal_payment_id
        and reverses.reversal_rank = 1
)

select * from final
where {{ in_build_scope('payment_id', 'int_payment_scope') }}
