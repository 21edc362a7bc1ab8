{#
  on-run-end: USAGE on every schema that holds a model or seed with grants, for the
  grantees those grants name (`+grants` in dbt_project.yml), so that a login which may
  select from a table can also reach it. dbt's grants cover the relations only. Runs
  after the commands that build (build, run, seed) and only on schemas that exist.
#}
{% macro grant_schema_usage() %}
    {%- if not execute or invocation_args_dict.get('which') not in ('build', 'run', 'seed') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set grantees_by_schema = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed') and node.config.grants -%}
        {%- set grantees = grantees_by_schema.setdefault(node.schema, []) -%}
        {%- for granted_to in node.config.grants.values() -%}
            {%- for grantee in ([granted_to] if granted_to is string else granted_to) if grantee not in grantees -%}
                {%- do grantees.append(grantee) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for schema, grantees in grantees_by_schema | dictsort
          if grantees and adapter.check_schema_exists(target.get('database'), schema) -%}
        {%- do statements.append(grant_usage_on_schema_sql(schema, grantees)) -%}
    {%- endfor -%}
    {%- if statements -%}
        {%- do run_statements(statements) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{% macro grant_usage_on_schema_sql(schema, grantees) -%}
    {{ return(adapter.dispatch('grant_usage_on_schema_sql')(schema, grantees)) }}
{%- endmacro %}

{# DuckDB has no roles: nothing to grant. #}
{% macro default__grant_usage_on_schema_sql(schema, grantees) -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__grant_usage_on_schema_sql(schema, grantees) -%}
    {%- set quoted = [] -%}
    {%- for grantee in grantees -%}
        {%- do quoted.append(adapter.quote(grantee)) -%}
    {%- endfor -%}
    grant usage on schema {{ adapter.quote(schema) }} to {{ quoted | join(', ') }}
{%- endmacro %}
