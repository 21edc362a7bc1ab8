{#
  Column types spelled the same on every warehouse. PostgreSQL and DuckDB say `double
  precision` and `text`; Spark's parser knows neither (`double`, `string`).
#}

{# A 64-bit float, for casts in models and macros. #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#
  The contracts' and seeds' declared types on Spark: dbt checks a contract by casting null
  to each declared `data_type` (dbt's `cast` macro, dispatched; this one of the root
  project wins), so the YAML keeps PostgreSQL's spelling and Spark reads its own.
#}
{% macro spark_type_name(type) -%}
    {%- set spelled = {'double precision': 'double', 'text': 'string'} -%}
    {{ return(spelled.get(type | trim | lower, type)) }}
{%- endmacro %}

{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type_name(type) }})
{%- endmacro %}
