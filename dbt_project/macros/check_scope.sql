{#
  Checks check what the run changed. On a refresh (an incremental batch fixed by this
  very invocation), the data tests of the big incremental tables look only at the keys
  the run recomputed; the rows outside them were checked when they were written and have
  not changed since. The whole tables are checked on --full-refresh (reseed), when
  var('check_scope') is 'full' (the scheduled verify job), and by any `dbt test`.
#}

{# Whether this invocation's tests are scoped to its refresh batch. #}
{% macro check_scope_is_batch() -%}
    {%- if not execute or flags.FULL_REFRESH or var('check_scope', 'batch') != 'batch' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set batch = current_refresh_batch() -%}
    {{ return(batch is not none and batch.mode == 'incremental') }}
{%- endmacro %}

{# What a scoped test of `relation` reads: a subquery over the alias `scoped`, or none for the whole table. #}
{% macro batch_scoped_rows(relation) -%}
    {%- set name = relation.identifier if relation.identifier is defined else none -%}
    {%- set rows = "select scoped.* from " ~ relation ~ " as scoped " -%}
    {%- if name == 'measurements' and relation.schema == 'analytics' -%}
        {{ return(rows ~ join_batch_pairs('scoped.signal_id', 'scoped.measured_at')) }}
    {#- These are scoped by what their pre-hooks recomputed; without it (a full build of the model) the whole table. -#}
    {%- elif name in time_weighted_marts() and refresh_state_exists(name ~ '_days') -%}
        {{ return(rows ~ join_batch_pairs('scoped.signal_id', 'scoped.' ~ time_weighted_marts()[name], pairs=name ~ '_days')) }}
    {%- elif name == 'signal_daily_quality' and refresh_state_exists('quality_days') -%}
        {{ return(rows ~ "where (scoped.signal_id, scoped.day_utc) in (select signal_id, day_utc from " ~ refresh_state('quality_days') ~ ")") }}
    {%- elif name == 'signal_flatlines' and refresh_state_exists('flat_windows') -%}
        {{ return(rows ~ "where scoped.signal_id in (select signal_id from " ~ refresh_state('flat_windows') ~ ")") }}
    {%- elif name == 'orphan_measurements' -%}
        {%- set batch = current_refresh_batch() -%}
        {{ return(rows ~ "where " ~ in_list('scoped.load_id', batch.added) ~ " or " ~ in_list('scoped.signal_id', batch.signals)) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#
  dbt's own hook for a test's `where` config (dbt's global project defines it; a macro of
  the root project takes precedence): the model a generic test reads, narrowed to the
  batch where the scope says so, and to the test's `where` config as before.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scoped = batch_scoped_rows(relation) if check_scope_is_batch() else none -%}
    {%- if scoped and where -%}
        {%- do return("(select * from (" ~ scoped ~ ") as scoped_rows where " ~ where ~ ") dbt_subquery") -%}
    {%- elif scoped -%}
        {%- do return("(" ~ scoped ~ ") dbt_subquery") -%}
    {%- elif where -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{# Load ids of this invocation's batch with the given change ('added', 'removed', 'kept'), of every file kind. #}
{% macro batch_load_ids(change) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(run_query("select load_id from " ~ refresh_state('batch_loads') ~ " where change = '" ~ change ~ "' order by load_id")
              .columns[0].values() | map('int') | list) }}
{%- endmacro %}
