-- Every payment balances: payment_amount = applied_amount + unapplied_amount
-- - payment_level_deduction_amount. Returns the payments that do not.
select
    payment_id,
    payment_amount,
    applied_amount,
    unapplied_amount,
    payment_level_deduction_amount
from {{ ref('fct_payments') }}
where payment_amount
    <> applied_amount + unapplied_amount - payment_level_deduction_amount
    or applied_amount < 0
    or unapplied_amount < 0 and not (is_reversal or is_reversed)
