{#- An update, run after an incremental model's new rows are in, that sets
    a column which depends on the run date, such as an age in days, on the
    rows the build did not rebuild. Rows whose value stays are not
    written. -#}
{% macro refresh_dated_column(column, expression) -%}
    {%- if is_incremental() -%}
        update {{ this }}
        set {{ column }} = {{ expression }}
        where {{ column }} is distinct from ({{ expression }})
    {%- endif -%}
{%- endmacro %}

{#- The run-date columns of the marts, shared by each model and its
    refresh_dated_column hook. -#}
{% macro fct_invoice_days_past_due() -%}
    case
        when open_amount > 0
            then greatest({{ days_between('due_date', as_of_date()) }}, 0)
    end
{%- endmacro %}

{% macro fct_deduction_days_outstanding(resolved_at='resolved_at') -%}
    case
        when status in ('recovered', 'written_off', 'closed')
            and {{ resolved_at }} is not null
            then {{ days_between('opened_date', 'cast(' ~ resolved_at ~ ' as date)') }}
        else {{ days_between('opened_date', as_of_date()) }}
    end
{%- endmacro %}

{#- fct_deductions on an incremental build: the rows whose status or
    amounts a review decision sets, now or in the last build. A decision
    log that lost entries thus leaves no stale status behind. -#}
{% macro delete_decided_deductions() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where deduction_id in (
            select deduction_id from {{ ref('int_deduction_decisions') }}
        )
            or first_decided_at is not null
    {%- endif -%}
{%- endmacro %}
