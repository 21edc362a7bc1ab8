{#
  The refresh batch: what changed in raw since the marts last caught up, so that a
  refresh recomputes only what the new loads touched.

  The unit of work is a (signal, UTC day) pair. The state that makes this exact lives in
  its own schema, refresh_state, outside the asset graph, written by the run hooks
  (dbt_project.yml: on-run-start / on-run-end) and the marts' pre-hooks:

    applied_loads    the loads (every file kind) the marts reflect after the last build
                     in which the whole measurement family succeeded
    load_coverage    per measurement load, the (signal, day) pairs its readings fall on,
                     with their count; written before any mart reads the load, kept until
                     a successful build no longer reflects the load, so a load replaced or
                     removed later still says which pairs it touched (even after a crash);
                     its days come from the marts' own conversion to UTC, daylight-saving
                     time included (macros/local_time.sql)
    coverage_conversion  the digest of that conversion's SQL when the coverage of every
                     load was last computed: a full build after the conversion changed
                     (source time zone, zone database, rule) computes all of it anew
    applied_signals  the signal catalogue (ids, plausible ranges and units) the marts reflect
    pending_signals  signals whose membership, range or unit changed since then; kept until a
                     successful build, so a change that a crashed run half-applied is
                     finished by the next run even if it was reverted meanwhile

  At the start of every `dbt build` / `dbt run` (begin_refresh_batch) the batch is fixed:

    batch_loads      every current load ('added' or 'kept') and every 'removed' one
    batch_pairs      the (signal, day) pairs of added and removed measurement loads, and
                     every pair of a pending signal
    batch_sources    the current measurement loads with readings on a batch pair: the
                     only raw partitions an incremental mart reads
    batch            one row: this invocation's id and its mode ('incremental', or 'full'
                     on --full-refresh and on the first build)

  Each incremental mart deletes the rows of the batch's keys and inserts them again from
  every current reading of those keys (delete and insert in one transaction), so a
  replaced file, a re-export of earlier days and a changed catalogue come out exactly as
  a full refresh, and running the same batch twice (after a crash) changes nothing. When
  the whole family succeeded, on-run-end (finish_refresh_batch) records the batch as
  applied; otherwise the next run computes the same pairs again, and more.
#}

{# The incremental models whose success, all together, lets the batch count as applied. #}
{% macro refresh_family() -%}
    {{ return(['measurements', 'measurements_hourly', 'orphan_measurements', 'signal_flatlines',
               'signal_daily_quality', 'measurements_15min', 'signal_daily']) }}
{%- endmacro %}

{% macro refresh_state(name) -%}
    {{ return(api.Relation.create(database=target.get('database'), schema='refresh_state', identifier=name)) }}
{%- endmacro %}

{# Whether refresh_state holds the table; asked of the database, as dbt's relation cache does not know the schema. #}
{% macro refresh_state_exists(name) -%}
    {{ return(adapter.dispatch('refresh_state_exists')(name)) }}
{%- endmacro %}

{% macro default__refresh_state_exists(name) -%}
    {{ return(run_query("select count(*) from information_schema.tables where table_schema = 'refresh_state' and table_name = '" ~ name ~ "'").rows[0][0] > 0) }}
{%- endmacro %}

{# Spark has no information_schema: its catalogue answers SHOW. #}
{% macro spark__refresh_state_exists(name) -%}
    {%- if not refresh_state_schema_exists() -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(run_query("show tables in refresh_state like '" ~ name ~ "'").rows | length > 0) }}
{%- endmacro %}

{% macro refresh_state_schema_exists() -%}
    {{ return(adapter.dispatch('refresh_state_schema_exists')()) }}
{%- endmacro %}

{% macro default__refresh_state_schema_exists() -%}
    {{ return(run_query("select count(*) from information_schema.schemata where schema_name = 'refresh_state'").rows[0][0] > 0) }}
{%- endmacro %}

{% macro spark__refresh_state_schema_exists() -%}
    {{ return(run_query("show schemas like 'refresh_state'").rows | length > 0) }}
{%- endmacro %}

{#
  Whether a build may recompute only the batch's keys. Not on Spark yet: there every build
  is a full one (each mart emptied and computed from all current loads), which a refresh
  after a new dump equals by construction; the batch is still fixed and recorded.
#}
{% macro incremental_refresh_supported() -%}
    {{ return(adapter.dispatch('incremental_refresh_supported')()) }}
{%- endmacro %}

{% macro default__incremental_refresh_supported() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__incremental_refresh_supported() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro is_build_command() -%}
    {{ return(invocation_args_dict.get('which') in ('build', 'run')) }}
{%- endmacro %}

{#
  Run statements one by one in one transaction, and commit it (run_query alone begins none).
  An item may be a list of statements (delete_rows on Spark). Spark has no transactions:
  there the statements run one after the other, each committed as it ends.
#}
{% macro run_statements(statements) -%}
    {%- for sql in flatten_statements(statements) -%}
        {%- call statement('refresh_state', auto_begin=true) -%}{{ sql }}{%- endcall -%}
    {%- endfor -%}
    {%- do adapter.commit() -%}
{%- endmacro %}

{# The statements of `statements` (strings, or lists of them), in order, without empty ones. #}
{% macro flatten_statements(statements) -%}
    {%- set flat = [] -%}
    {%- for item in statements -%}
        {%- for sql in ([item] if item is string else item) if sql | trim -%}
            {%- do flat.append(sql | trim) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(flat) }}
{%- endmacro %}

{#
  A model's pre- or post-hook made of several statements: one string of them, separated
  by semicolons, which PostgreSQL and DuckDB run as one hook. Spark runs one statement per
  call: there they run here, one by one, while dbt renders the hook, and the hook is empty.
#}
{% macro hook_statements(statements) -%}
    {{ return(adapter.dispatch('hook_statements')(statements)) }}
{%- endmacro %}

{% macro default__hook_statements(statements) -%}
    {{ return(flatten_statements(statements) | join(';\n')) }}
{%- endmacro %}

{% macro spark__hook_statements(statements) -%}
    {%- if execute -%}
        {%- for sql in flatten_statements(statements) -%}
            {%- do run_query(sql) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#
  Delete the rows of `relation` that satisfy `where` (all of them without): one
  statement, or on Spark a list of them. Spark's Parquet tables have no DELETE: the rows
  to keep are copied aside and written back over the table (INSERT OVERWRITE may not read
  the table it overwrites); without `where`, TRUNCATE. Not atomic there: the refresh
  state is written by one dbt invocation at a time, and a crash leaves the next run a
  full build's worth of checks (docs/spark.md).
#}
{% macro delete_rows(relation, where=none) -%}
    {{ return(adapter.dispatch('delete_rows')(relation, where)) }}
{%- endmacro %}

{% macro default__delete_rows(relation, where) -%}
    {{ return("delete from " ~ relation ~ (" where " ~ where if where else "")) }}
{%- endmacro %}

{% macro spark__delete_rows(relation, where) -%}
    {%- if not where -%}
        {{ return(["truncate table " ~ relation]) }}
    {%- endif -%}
    {%- set kept = relation.incorporate(path={'identifier': relation.identifier ~ '__kept'}) -%}
    {{ return([
        "drop table if exists " ~ kept,
        "create table " ~ kept ~ " using parquet as select * from " ~ relation ~ " where not coalesce((" ~ where ~ "), false)",
        "insert overwrite table " ~ relation ~ " select * from " ~ kept,
        "drop table " ~ kept,
    ]) }}
{%- endmacro %}

{# A column added to a refresh_state table of an earlier version; Spark's state never had that version. #}
{% macro add_column_if_not_exists(relation, column, type) -%}
    {{ return(adapter.dispatch('add_column_if_not_exists')(relation, column, type)) }}
{%- endmacro %}

{% macro default__add_column_if_not_exists(relation, column, type) -%}
    {{ return("alter table " ~ relation ~ " add column if not exists " ~ column ~ " " ~ type) }}
{%- endmacro %}

{% macro spark__add_column_if_not_exists(relation, column, type) -%}
    {{ return('') }}
{%- endmacro %}

{# A literal `column in (...)` filter; on PostgreSQL literal load ids prune raw.measurements to their partitions. #}
{% macro in_list(column, values) -%}
    {%- if values -%}
        {{ column }} in ({{ values | join(', ') }})
    {%- else -%}
        1 = 0
    {%- endif -%}
{%- endmacro %}

{#
  Matching rows to the batch's (signal, day) pairs, as a join: the pairs are distinct and
  a reading falls on one day, so the join keeps each matching row once. PostgreSQL
  matches on the time range, which its unique (signal_id, time) indexes answer pair by
  pair (a semi-join plan would scan the table); DuckDB matches on the day (a hash join).
#}
{% macro batch_pair_condition(signal_column, time_column) -%}
    {{ return(adapter.dispatch('batch_pair_condition')(signal_column, time_column)) }}
{%- endmacro %}

{% macro default__batch_pair_condition(signal_column, time_column) -%}
    batch_pair.signal_id = {{ signal_column }}
    and {{ time_column }} >= cast(batch_pair.day_utc as timestamp)
    and {{ time_column }} < {{ dbt.dateadd('day', 1, 'cast(batch_pair.day_utc as timestamp)') }}
{%- endmacro %}

{% macro duckdb__batch_pair_condition(signal_column, time_column) -%}
    batch_pair.signal_id = {{ signal_column }}
    and batch_pair.day_utc = cast({{ time_column }} as date)
{%- endmacro %}

{# `inner join` of the pairs table (batch_pairs, or quality_days) to the rows of `signal_column` at `time_column`. #}
{% macro join_batch_pairs(signal_column, time_column, pairs='batch_pairs') -%}
    inner join {{ refresh_state(pairs) }} as batch_pair
        on {{ batch_pair_condition(signal_column, time_column) }}
{%- endmacro %}

{# PostgreSQL plans the joins on a state table well only once it knows its size. #}
{% macro analyze_state(name) -%}
    {%- if target.type == 'postgres' -%}
        analyze {{ refresh_state(name) }}
    {%- endif -%}
{%- endmacro %}

{#
  on-run-start: fix this invocation's batch. Only `build` and `run` change the marts;
  other commands (test, docs, compile) leave the state alone.
#}
{% macro begin_refresh_batch() %}
    {%- if not execute or not is_build_command() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set state_existed = refresh_state_exists('applied_loads') -%}
    {%- if not refresh_state_schema_exists() -%}
        {#- On PostgreSQL with separate logins the raw migrations create it for the transformer. -#}
        {%- do run_statements(["create schema if not exists " ~ adapter.quote('refresh_state')]) -%}
    {%- endif -%}
    {%- set mode = 'full' if (flags.FULL_REFRESH or not state_existed or not incremental_refresh_supported()) else 'incremental' -%}
    {#- Named directly, not through source(): hooks are not nodes of the graph. -#}
    {%- set ledger = api.Relation.create(database=target.get('database'), schema='raw', identifier='load_ledger') -%}
    {%- set raw_measurements = api.Relation.create(database=target.get('database'), schema='raw', identifier='measurements') -%}
    {%- set raw_signals = api.Relation.create(database=target.get('database'), schema='raw', identifier='signals') -%}

    {#- The first version's bookkeeping tables, inside the model graph, are retired. -#}
    {%- set staging = api.Relation.create(database=target.get('database'), schema='staging', identifier='measurement_inputs') -%}
    {%- do run_statements([
        "create table if not exists " ~ refresh_state('applied_loads') ~ " (load_id bigint not null, file_kind " ~ dbt.type_string() ~ " not null)",
        "drop table if exists " ~ staging,
        "drop table if exists " ~ staging.incorporate(path={'identifier': 'measurement_inputs_applied'}),
        "create table if not exists " ~ refresh_state('load_coverage') ~ " (load_id bigint not null, signal_id bigint not null, day_utc date not null, readings bigint not null)",
        "create table if not exists " ~ refresh_state('applied_signals') ~ " (signal_id bigint not null, plausible_min " ~ type_double() ~ ", plausible_max " ~ type_double() ~ ", unit " ~ dbt.type_string() ~ ")",
        add_column_if_not_exists(refresh_state('applied_signals'), 'unit', dbt.type_string()),
        "create table if not exists " ~ refresh_state('pending_signals') ~ " (signal_id bigint not null)",
        "drop table if exists " ~ refresh_state('batch_loads'),
        "create table " ~ refresh_state('batch_loads') ~ " as
         with current_loads as (
             select cast(load_id as bigint) as load_id, cast(file_kind as " ~ dbt.type_string() ~ ") as file_kind
             from " ~ ledger ~ "
             where status = 'loaded'
         ),
         reflected as (
             select load_id, file_kind from " ~ refresh_state('applied_loads') ~ "
             union
             select distinct load_id, cast('measurements' as " ~ dbt.type_string() ~ ") as file_kind from " ~ refresh_state('load_coverage') ~ "
         )
         select
             current_loads.load_id,
             current_loads.file_kind,
             cast(case when applied.load_id is null then 'added' else 'kept' end as " ~ dbt.type_string() ~ ") as change
         from current_loads
         left join " ~ refresh_state('applied_loads') ~ " as applied
             on applied.load_id = current_loads.load_id
         union all
         select load_id, file_kind, cast('removed' as " ~ dbt.type_string() ~ ") as change
         from reflected
         where load_id not in (select load_id from current_loads)",
    ]) -%}

    {#-
      Coverage of the measurement loads not covered yet, read from raw before any mart
      reads them, with the marts' own conversion to UTC (macros/local_time.sql). When the
      conversion changed since the coverage was computed (another source time zone, the
      zone database, the rule), a full build computes it anew for every current load, so
      that a load removed later names the days its readings lie on now; coverage_conversion
      holds the digest of the conversion's SQL the coverage was computed with.
    -#}
    {%- set conversion = local_md5(readings_in_utc(raw_measurements)) -%}
    {%- do run_statements(["create table if not exists " ~ refresh_state('coverage_conversion') ~ " (conversion " ~ dbt.type_string() ~ " not null)"]) -%}
    {%- set covered_with = run_query("select max(conversion) from " ~ refresh_state('coverage_conversion')).rows[0][0] -%}
    {%- set cover_all = mode == 'full' and covered_with != conversion -%}
    {%- set uncovered = run_query(
        "select load_id from " ~ refresh_state('batch_loads') ~ "
         where file_kind = 'measurements' and change <> 'removed'"
         ~ ("" if cover_all else " and load_id not in (select load_id from " ~ refresh_state('load_coverage') ~ ")") ~ "
         order by load_id").columns[0].values() | map('int') | list -%}
    {%- set statements = [] -%}
    {%- if uncovered -%}
        {%- do statements.extend([
            delete_rows(refresh_state('load_coverage'), in_list('load_id', uncovered)),
            "insert into " ~ refresh_state('load_coverage') ~ " (load_id, signal_id, day_utc, readings)
             select load_id, signal_id, cast(measured_at as date), cast(count(*) as bigint)
             from (" ~ readings_in_utc(raw_measurements, where=in_list('load_id', uncovered)) ~ ") as readings
             group by load_id, signal_id, cast(measured_at as date)"]) -%}
    {%- endif -%}
    {%- if cover_all -%}
        {%- do statements.extend([
            delete_rows(refresh_state('coverage_conversion')),
            "insert into " ~ refresh_state('coverage_conversion') ~ " (conversion) values ('" ~ conversion ~ "')"]) -%}
    {%- endif -%}
    {%- do statements.extend([
        "insert into " ~ refresh_state('pending_signals') ~ " (signal_id)
         select signal_id
         from (
             (select distinct cast(signal_id as bigint) as signal_id from " ~ raw_signals ~ " where signal_id is not null
              except
              select signal_id from " ~ refresh_state('applied_signals') ~ ")
             union
             (select signal_id from " ~ refresh_state('applied_signals') ~ "
              except
              select distinct cast(signal_id as bigint) from " ~ raw_signals ~ " where signal_id is not null)
         ) as changed
         where signal_id not in (select signal_id from " ~ refresh_state('pending_signals') ~ ")",
        "drop table if exists " ~ refresh_state('batch_pairs'),
        "create table " ~ refresh_state('batch_pairs') ~ " as
         select distinct coverage.signal_id, coverage.day_utc
         from " ~ refresh_state('load_coverage') ~ " as coverage
         where coverage.load_id in (select load_id from " ~ refresh_state('batch_loads') ~ " where change in ('added', 'removed'))
            or coverage.signal_id in (select signal_id from " ~ refresh_state('pending_signals') ~ ")",
        analyze_state('batch_pairs'),
        analyze_state('load_coverage'),
        "drop table if exists " ~ refresh_state('batch_sources'),
        "create table " ~ refresh_state('batch_sources') ~ " as
         select distinct coverage.load_id
         from " ~ refresh_state('load_coverage') ~ " as coverage
         inner join " ~ refresh_state('batch_pairs') ~ " as batch_pair
             on batch_pair.signal_id = coverage.signal_id
             and batch_pair.day_utc = coverage.day_utc
         where coverage.load_id in (select load_id from " ~ refresh_state('batch_loads') ~ " where change <> 'removed')",
        "drop table if exists " ~ refresh_state('batch'),
        "create table " ~ refresh_state('batch') ~ " as
         select cast('" ~ invocation_id ~ "' as " ~ dbt.type_string() ~ ") as invocation_id,
                cast('" ~ mode ~ "' as " ~ dbt.type_string() ~ ") as mode,
                current_timestamp as started_at",
    ]) -%}
    {%- do run_statements(statements) -%}
    {%- set counts = run_query(
        "select
             (select count(*) from " ~ refresh_state('batch_loads') ~ " where change = 'added'),
             (select count(*) from " ~ refresh_state('batch_loads') ~ " where change = 'removed'),
             (select count(*) from " ~ refresh_state('pending_signals') ~ "),
             (select count(*) from " ~ refresh_state('batch_pairs') ~ ")").rows[0] -%}
    {%- if mode == 'full' -%}
        {%- do log("refresh batch (full): every mart is rebuilt from all current loads", info=true) -%}
    {%- else -%}
        {%- do log("refresh batch (incremental): " ~ counts[0] ~ " loads added, " ~ counts[1] ~ " removed, "
                   ~ counts[2] ~ " signals changed, " ~ counts[3] ~ " signal-days to recompute", info=true) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#
  This invocation's batch, as a model or test sees it:
    mode       'incremental' (recompute the batch's keys) or 'full' (everything: the first
               build, --full-refresh, a model whose table does not exist yet, a unit test)
    sources    measurement load ids to read from raw
    added, removed   measurement load ids
    signals    pending signal ids
#}
{% macro refresh_batch() -%}
    {%- set full = {'mode': 'full', 'sources': [], 'added': [], 'removed': [], 'signals': []} -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set batch = current_refresh_batch() -%}
    {%- if batch is none or batch.mode != 'incremental' -%}
        {{ return(full) }}
    {%- endif -%}
    {{ return(batch) }}
{%- endmacro %}

{# The batch begin_refresh_batch fixed for this very invocation, or none. #}
{% macro current_refresh_batch() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not refresh_state_exists('batch') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = run_query("select invocation_id, mode from " ~ refresh_state('batch')).rows -%}
    {%- if not row or row[0][0] != invocation_id -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set loads = run_query("select load_id, change from " ~ refresh_state('batch_loads') ~ " where file_kind = 'measurements' order by load_id") -%}
    {%- set sources = run_query("select load_id from " ~ refresh_state('batch_sources') ~ " order by load_id").columns[0].values() | map('int') | list -%}
    {%- set signals = run_query("select signal_id from " ~ refresh_state('pending_signals') ~ " order by signal_id").columns[0].values() | map('int') | list -%}
    {%- set batch = {'mode': row[0][1], 'sources': sources, 'added': [], 'removed': [], 'signals': signals} -%}
    {%- for load in loads.rows if load[1] in ('added', 'removed') -%}
        {%- do batch[load[1]].append(load[0] | int) -%}
    {%- endfor -%}
    {{ return(batch) }}
{%- endmacro %}

{#
  What a mart's pre-hook deletes: 'nothing' (its table is new), 'everything' (the batch
  is full: first build with a refresh_state, --full-refresh), or the batch's rows (the
  batch is returned).
#}
{% macro rows_to_recompute() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return('nothing') }}
    {%- endif -%}
    {%- set batch = current_refresh_batch() -%}
    {{ return('everything' if batch is none or batch.mode != 'incremental' else batch) }}
{%- endmacro %}

{#
  Pre-hook of the marts keyed by signal and time: remove the rows the batch recomputes,
  inside the model's transaction.
#}
{% macro delete_batch_rows(signal_column, time_column) -%}
    {%- set batch = rows_to_recompute() -%}
    {%- if batch == 'nothing' -%}
        {{ return('') }}
    {%- elif batch == 'everything' -%}
        {{ return(hook_statements([delete_rows(this)])) }}
    {%- endif -%}
    delete from {{ this }} as target
    using {{ refresh_state('batch_pairs') }} as batch_pair
    where {{ batch_pair_condition('target.' ~ signal_column, 'target.' ~ time_column) }}
{%- endmacro %}

{#
  on-run-end: when every model of the family succeeded in this invocation, the marts
  reflect the batch: record it. Otherwise leave the state as it was, so that the next
  run recomputes the same keys (and whatever arrived meanwhile).
#}
{% macro finish_refresh_batch(results) %}
    {%- if not execute or not is_build_command() or current_refresh_batch() is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set succeeded = [] -%}
    {%- for result in results if result.node.resource_type == 'model' and result.status == 'success' -%}
        {%- do succeeded.append(result.node.name) -%}
    {%- endfor -%}
    {%- set missing = [] -%}
    {%- for name in refresh_family() if name not in succeeded -%}
        {%- do missing.append(name) -%}
    {%- endfor -%}
    {%- if missing -%}
        {%- do log("refresh batch not recorded as applied: " ~ (missing | join(', ')) ~ " did not build in this run; the next run recomputes it", info=true) -%}
        {{ return('') }}
    {%- endif -%}
    {%- do run_statements([
        delete_rows(refresh_state('applied_loads')),
        "insert into " ~ refresh_state('applied_loads') ~ " (load_id, file_kind)
         select load_id, file_kind from " ~ refresh_state('batch_loads') ~ " where change <> 'removed'",
        delete_rows(refresh_state('load_coverage'),
                    "load_id in (select load_id from " ~ refresh_state('batch_loads') ~ " where change = 'removed')"),
        delete_rows(refresh_state('applied_signals')),
        "insert into " ~ refresh_state('applied_signals') ~ " (signal_id, plausible_min, plausible_max, unit)
         select signal_id, plausible_min, plausible_max, unit from "
            ~ api.Relation.create(database=target.get('database'), schema='analytics', identifier='signals'),
        delete_rows(refresh_state('pending_signals')),
    ]) -%}
    {{ return('') }}
{% endmacro %}

{# Pre-hook of orphan_measurements: the rows of the batch's loads and pending signals. #}
{% macro delete_orphan_batch_rows() -%}
    {%- set batch = rows_to_recompute() -%}
    {%- if batch == 'nothing' -%}
        {{ return('') }}
    {%- elif batch == 'everything' -%}
        {{ return(hook_statements([delete_rows(this)])) }}
    {%- endif -%}
    delete from {{ this }}
    where {{ in_list('load_id', batch.added + batch.removed) }}
       or {{ in_list('signal_id', batch.signals) }}
{%- endmacro %}
