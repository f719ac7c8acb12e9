-- One row per customer and category: deductions taken, their validity and
-- the open amount by age since opened_date as of the run's as-of date.
with

deductions as (
    select * from {{ ref('fct_deductions') }}
),

customers as (
    select customer_id, customer_name from {{ ref('dim_customers') }}
),

aged as (
    select
        deductions.*,
        status not in ('recovered', 'written_off', 'closed') as is_open,
        {{ days_between('opened_date', as_of_date()) }} as age_days
    from deductions
),

{% set open_amount = "case when is_open then deduction_amount else 0 end" %}

final as (
    select
        coalesce(aged.customer_id, '(unknown)') as customer_id,
        max(customers.customer_name) as customer_name,
        aged.category,
        count(*) as deduction_count,
        cast(sum(deduction_amount) as decimal(18, 2)) as deduction_amount,
        cast(sum(valid_amount) as decimal(18, 2)) as valid_amount,
        cast(sum(invalid_amount) as decimal(18, 2)) as invalid_amount,
        cast(
            sum(case when validity = 'needs_review' then deduction_amount else 0 end)
            as decimal(18, 2)
        ) as needs_review_amount,
        cast(sum({{ open_amount }}) as decimal(18, 2)) as open_amount,
        cast(sum(case when age_days <= 30 then {{ open_amount }} else 0 end)
            as decimal(18, 2)) as open_0_30_amount,
        cast(sum(case when age_days between 31 and 60 then {{ open_amount }} else 0 end)
            as decimal(18, 2)) as open_31_60_amount,
        cast(sum(case when age_days between 61 and 90 then {{ open_amount }} else 0 end)
            as decimal(18, 2)) as open_61_90_amount,
        cast(sum(case when age_days between 91 and 180 then {{ open_amount }} else 0 end)
            as decimal(18, 2)) as open_91_180_amount,
        cast(sum(case when age_days > 180 then {{ open_amount }} else 0 end)
            as decimal(18, 2)) as open_over_180_amount,
        {{ as_of_date() }} as as_of_date
    from aged
    left join customers on aged.customer_id = customers.customer_id
    group by coalesce(aged.customer_id, '(unknown)'), aged.category
)

select * from final
