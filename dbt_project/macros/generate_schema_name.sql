{#
  Schemas are exactly the names the models ask for (`staging`, `analytics`) on every
  target, not dbt's default `<target schema>_<custom schema>`: analysts and the loaders
  (which own `raw`) rely on these fixed names.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
