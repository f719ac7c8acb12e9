{#- SQL that differs between DuckDB and Spark. Each macro dispatches on the
    adapter, so models call shortpay_* and never the engine's own spelling. -#}

{% macro try_cast_to(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast_to', 'shortpay')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast_to(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}


{#- Upper-case the reference and keep letters and digits only. -#}
{% macro alnum_upper(expression) -%}
    {{ return(adapter.dispatch('alnum_upper', 'shortpay')(expression)) }}
{%- endmacro %}

{% macro duckdb__alnum_upper(expression) -%}
    regexp_replace(upper({{ expression }}), '[^A-Z0-9]', '', 'g')
{%- endmacro %}

{% macro spark__alnum_upper(expression) -%}
    regexp_replace(upper({{ expression }}), '[^A-Z0-9]', '')
{%- endmacro %}


{#- Drop a leading document prefix (INV, INVOICE, NO) and leading zeros. -#}
{% macro strip_reference_prefix(expression) -%}
    {{ return(adapter.dispatch('strip_reference_prefix', 'shortpay')(expression)) }}
{%- endmacro %}

{% macro duckdb__strip_reference_prefix(expression) -%}
    regexp_replace(
        regexp_replace({{ expression }}, '^(INVOICE|INV|NO)([0-9])', '\2'),
        '^0+([0-9A-Z])', '\1'
    )
{%- endmacro %}

{% macro spark__strip_reference_prefix(expression) -%}
    regexp_replace(
        regexp_replace({{ expression }}, '^(INVOICE|INV|NO)([0-9])', '$2'),
        '^0+([0-9A-Z])', '$1'
    )
{%- endmacro %}


{% macro edit_distance(left, right) -%}
    {{ return(adapter.dispatch('edit_distance', 'shortpay')(left, right)) }}
{%- endmacro %}

{% macro default__edit_distance(left, right) -%}
    levenshtein({{ left }}, {{ right }})
{%- endmacro %}


{#- Whole days from start_date to end_date (positive when end is later). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'shortpay')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}


{% macro add_days(date_expression, days) -%}
    {{ return(adapter.dispatch('add_days', 'shortpay')(date_expression, days)) }}
{%- endmacro %}

{% macro duckdb__add_days(date_expression, days) -%}
    cast({{ date_expression }} + to_days(cast({{ days }} as integer)) as date)
{%- endmacro %}

{% macro spark__add_days(date_expression, days) -%}
    date_add({{ date_expression }}, {{ days }})
{%- endmacro %}


{#- A stable text id from the given expressions. -#}
{% macro stable_id(prefix, expressions) -%}
    '{{ prefix }}-' || substr(md5(concat_ws('|', {{ expressions | join(', ') }})), 1, 16)
{%- endmacro %}


{#- The run date. The pipeline passes it in SHORTPAY_AS_OF, not as a dbt
    variable: a changed variable makes dbt parse the whole project again,
    while a changed environment variable makes it parse again only the
    files that use it. When SHORTPAY_AS_OF is unset or empty, the as_of
    variable of dbt_project.yml (or --vars) applies. -#}
{% macro as_of_date() -%}
    cast('{{ env_var("SHORTPAY_AS_OF", "") or var("as_of") }}' as date)
{%- endmacro %}


{#- Money: every amount is decimal(18, 2); divisions cast their result. -#}
{% macro money(expression) -%}
    cast({{ expression }} as decimal(18, 2))
{%- endmacro %}


{#- Comma-separated distinct values of a group, in sorted order. -#}
{% macro list_agg(expression) -%}
    {{ return(adapter.dispatch('list_agg', 'shortpay')(expression)) }}
{%- endmacro %}

{% macro duckdb__list_agg(expression) -%}
    string_agg(distinct {{ expression }}, ', ' order by {{ expression }})
{%- endmacro %}

{% macro spark__list_agg(expression) -%}
    array_join(array_sort(collect_set({{ expression }})), ', ')
{%- endmacro %}


{#- Text of a decimal amount, exactly as stored (143.76). -#}
{% macro amount_text(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}


{% macro month_start(date_expression) -%}
    {{ return(adapter.dispatch('month_start', 'shortpay')(date_expression)) }}
{%- endmacro %}

{% macro default__month_start(date_expression) -%}
    cast(date_trunc('month', {{ date_expression }}) as date)
{%- endmacro %}


{% macro median_of(expression) -%}
    {{ return(adapter.dispatch('median_of', 'shortpay')(expression)) }}
{%- endmacro %}

{% macro duckdb__median_of(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__median_of(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}


{#- numerator / denominator as decimal(18, scale), rounded half away from
    zero, or null when the denominator is zero. DuckDB divides decimals in
    double precision, so its version divides whole numbers of cents instead;
    both arguments must have at most two decimal places. -#}
{% macro ratio(numerator, denominator, scale=6) -%}
    {{ return(adapter.dispatch('ratio', 'shortpay')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro duckdb__ratio(numerator, denominator, scale) -%}
    case
        when ({{ denominator }}) = 0 then null
        else cast(
            cast(
                (
                    2 * cast(({{ numerator }}) * 100 as hugeint) * {{ 10 ** scale }}
                    + sign(({{ numerator }}) * ({{ denominator }}))
                    * abs(cast(({{ denominator }}) * 100 as hugeint))
                ) // (2 * cast(({{ denominator }}) * 100 as hugeint))
                as decimal(38, 0)
            ) * cast('0.{{ '0' * (scale - 1) }}1' as decimal(18, {{ scale }}))
            as decimal(18, {{ scale }})
        )
    end
{%- endmacro %}

{% macro spark__ratio(numerator, denominator, scale) -%}
    case
        when ({{ denominator }}) = 0 then null
        else cast(
            round(
                cast(({{ numerator }}) as decimal(38, 10))
                / cast(({{ denominator }}) as decimal(38, 10)),
                {{ scale }}
            ) as decimal(18, {{ scale }})
        )
    end
{%- endmacro %}

