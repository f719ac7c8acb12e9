-- One row per payment read from the inbox. When a payment id comes again in
-- a later file, the first file's row is kept. The later row is flagged here,
-- so it is reported as an exception and not posted twice.
--
-- A table, because three models read it. An incremental build ranks again
-- only the payment ids of new files, and any rows without an id.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where {{ is_new_payment_id('payment_id') }}{% endif %}",
    )
}}

-- depends_on: {{ ref('stg_superseded_files') }}

with

source as (
    select * from {{ source('raw', 'payments') }}
    {%- if is_incremental() %}
    where {{ is_new_payment_id('payment_id') }}
    {%- endif %}
),

files as (
    select file_hash, loaded_at from {{ source('raw', 'files') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by source.payment_id
            order by files.loaded_at, source.source_file, source.source_position
        ) as id_rank
    from source
    left join files on source.file_hash = files.file_hash
),

final as (
    select
        payment_id,
        nullif(trim(customer_id), '') as customer_id,
        payer_id,
        payer_name,
        payee_name,
        payment_date,
        value_date,
        -- A reversal takes money back, so it counts negative.
        cast(
            case
                when coalesce(is_reversal, false) then -abs(payment_amount)
                else payment_amount
            end as decimal(18, 2)
        ) as payment_amount,
        upper(coalesce(currency, 'USD')) as currency,
        payment_method,
        trace_number,
        bank_account,
        payer_account,
        -- A negative payment takes money back, whatever the file calls it.
        coalesce(is_reversal, false) or payment_amount < 0 as is_reversal,
        source_format,
        source_file,
        file_hash,
        source_position,
        id_rank > 1 as is_repeated_id
    from ranked
)

select * from final
