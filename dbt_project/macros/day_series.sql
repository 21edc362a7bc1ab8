{#
  One row per calendar day from `first_day` to `last_day` (both dates, inclusive), used
  in a select list next to the columns it expands: PostgreSQL has a set-returning
  generate_series, DuckDB's returns a list that unnest() expands, Spark's sequence() an
  array that explode() expands.
#}
{% macro day_series(first_day, last_day) -%}
    {{ return(adapter.dispatch('day_series')(first_day, last_day)) }}
{%- endmacro %}

{% macro default__day_series(first_day, last_day) -%}
    cast(generate_series(cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day') as date)
{%- endmacro %}

{% macro duckdb__day_series(first_day, last_day) -%}
    cast(unnest(generate_series(cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day')) as date)
{%- endmacro %}

{# Spark's generator may not sit inside an expression; a sequence of dates is dates already. #}
{% macro spark__day_series(first_day, last_day) -%}
    explode(sequence(cast({{ first_day }} as date), cast({{ last_day }} as date), interval '1 day'))
{%- endmacro %}
