{#
    Checks of a model's columns in one test: the columns in `not_null` have
    no null, the expressions in `unique` no repeated value, and the columns
    in `accepted_values` (a mapping of column to its values) only the values
    listed. Each failing row names the column or expression, the failure,
    an example value and the number of rows that fail that way.

    One test per model rather than one per column and check: dbt's own work
    for each test, about 45 ms here, cost more than the queries of most
    checks. Nulls fail only `not_null`, as in dbt's unique and
    accepted_values tests.
#}
{% test column_checks(model, not_null=[], unique=[], accepted_values={}) %}

{%- set string_type = dbt.type_string() -%}
{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append(("null", column, none)) -%}
{%- endfor -%}
{%- for expression in unique -%}
    {%- do checks.append(("repeated", expression, none)) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- do checks.append(("not accepted", column, values)) -%}
{%- endfor -%}

{%- for failure, expression, values in checks %}
select
    '{{ expression | replace("'", "''") }}' as column_name,
    '{{ failure }}' as failure,
    {%- if failure == "null" %}
    cast(null as {{ string_type }}) as example,
    {%- else %}
    cast({{ expression }} as {{ string_type }}) as example,
    {%- endif %}
    count(*) as failing_rows
from {{ model }}
{%- if failure == "null" %}
where {{ expression }} is null
having count(*) > 0
{%- elif failure == "repeated" %}
where {{ expression }} is not null
group by {{ expression }}
having count(*) > 1
{%- else %}
where {{ expression }} not in (
    {%- for value in values %}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
)
group by {{ expression }}
{%- endif %}
{{ "union all" if not loop.last }}
{%- else %}
select
    cast(null as {{ string_type }}) as column_name,
    cast(null as {{ string_type }}) as failure,
    cast(null as {{ string_type }}) as example,
    0 as failing_rows
where 1 = 0
{%- endfor %}

{% endtest %}
