-- The invoices whose allocations an incremental build computes again: the
-- rebuilt invoices (int_invoice_scope), and every invoice that a line of a
-- payment in int_payment_scope pays now or paid after the last build. The
-- lines of one invoice are allocated together, in payment order, so all
-- of them are computed again. A full build leaves this table empty.

-- depends_on: {{ ref('int_invoice_scope') }}
-- depends_on: {{ ref('int_payment_scope') }}
-- depends_on: {{ ref('int_remittance_matches') }}
-- depends_on: {{ ref('int_combination_matches') }}

with

{% if incremental_build() %}

rematched as (
    select payment_id from {{ ref('int_payment_scope') }}
),

final as (
    select invoice_id from {{ ref('int_invoice_scope') }}
    union
    select invoice_id
    from {{ previous_build('int_invoice_allocations') }}
    where payment_id in (select payment_id from rematched)
    union
    select invoice_id
    from {{ ref('int_remittance_matches') }}
    where invoice_id is not null
        and payment_id in (select payment_id from rematched)
    union
    select invoice_id
    from {{ ref('int_combination_matches') }}
    where invoice_id is not null
        and payment_id in (select payment_id from rematched)
)

{% else %}

{{ empty_scope('invoice_id') }}

{% endif %}

select * from final
