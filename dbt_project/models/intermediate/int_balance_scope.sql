-- The payments whose allocations, deductions and balance an incremental
-- build computes again: the payments of int_payment_scope, and every
-- payment with a matched line on an invoice of int_allocation_scope. A
-- full build leaves this table empty.

-- depends_on: {{ ref('int_payment_scope') }}
-- depends_on: {{ ref('int_allocation_scope') }}
-- depends_on: {{ ref('int_remittance_matches') }}
-- depends_on: {{ ref('int_combination_matches') }}

with

{% if incremental_build() %}

reallocated as (
    select invoice_id from {{ ref('int_allocation_scope') }}
),

final as (
    select payment_id from {{ ref('int_payment_scope') }}
    union
    select payment_id
    from {{ ref('int_remittance_matches') }}
    where invoice_id in (select invoice_id from reallocated)
    union
    select payment_id
    from {{ ref('int_combination_matches') }}
    where invoice_id in (select invoice_id from reallocated)
)

{% else %}

{{ empty_scope('payment_id') }}

{% endif %}

select * from final
