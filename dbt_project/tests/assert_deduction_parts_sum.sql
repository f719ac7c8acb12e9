-- Every deduction has parts in fct_deduction_lines, and they add up to its
-- amount.
with

parts as (
    select deduction_id, sum(part_amount) as parts_amount
    from {{ ref('fct_deduction_lines') }}
    group by deduction_id
)

select
    deductions.deduction_id,
    deductions.deduction_amount,
    parts.parts_amount
from {{ ref('fct_deductions') }} as deductions
full outer join parts on deductions.deduction_id = parts.deduction_id
where deductions.deduction_id is null
    or parts.deduction_id is null
    or deductions.deduction_amount <> parts.parts_amount
