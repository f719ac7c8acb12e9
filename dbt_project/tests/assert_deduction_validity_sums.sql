-- valid_amount + invalid_amount = deduction_amount once validity is
-- decided, and both are 0 while it needs review.
select deduction_id, validity, deduction_amount, valid_amount, invalid_amount
from {{ ref('fct_deductions') }}
where deduction_amount <= 0
    or valid_amount < 0
    or invalid_amount < 0
    or (
        validity in ('valid', 'invalid')
        and valid_amount + invalid_amount <> deduction_amount
    )
    or (validity = 'needs_review' and (valid_amount <> 0 or invalid_amount <> 0))
