{#
  What an incremental refresh of the stuck stretches (signal_flatlines) and of the daily
  quality (signal_daily_quality) recomputes beyond the batch's (signal, day) pairs.

  A quality row depends on more than the readings of its day: on the signal's first
  reading ever (the window of its first day), on the end of the data (the window of the
  last day, and the silent days up to it), on the signal's plausible range, and on the
  stuck stretches that overlap it, which can span many days. Each is handled here, in the
  pre-hooks of the two models, inside their transactions.
#}

{# Every known signal with readings: its first and last reading. PostgreSQL walks the unique index per signal. #}
{% macro signal_reading_bounds(measurements, signals) -%}
    {{ return(adapter.dispatch('signal_reading_bounds')(measurements, signals)) }}
{%- endmacro %}

{% macro default__signal_reading_bounds(measurements, signals) -%}
    select signal_id, min(measured_at) as first_at, max(measured_at) as last_at
    from {{ measurements }}
    where signal_id in (select signal_id from {{ signals }})
    group by signal_id
{%- endmacro %}

{% macro postgres__signal_reading_bounds(measurements, signals) -%}
    select signals.signal_id, first_reading.measured_at as first_at, last_reading.measured_at as last_at
    from {{ signals }} as signals
    cross join lateral (
        select measured_at from {{ measurements }} as m
        where m.signal_id = signals.signal_id
        order by m.measured_at
        limit 1
    ) as first_reading
    cross join lateral (
        select measured_at from {{ measurements }} as m
        where m.signal_id = signals.signal_id
        order by m.measured_at desc
        limit 1
    ) as last_reading
{%- endmacro %}

{# The stretch `alias` (run_start_at .. run_end_at) lies inside its signal's flat window. #}
{% macro in_flat_window(alias) -%}
    exists (
        select 1
        from {{ refresh_state('flat_windows') }} as flat_window
        where flat_window.signal_id = {{ alias }}.signal_id
          and (flat_window.window_after is null or {{ alias }}.run_start_at > flat_window.window_after)
          and (flat_window.window_before is null or {{ alias }}.run_end_at < flat_window.window_before)
    )
{%- endmacro %}

{#
  Per signal of the batch: window_after, the last reading before its first touched day
  whose value differs from the reading just before that day, and window_before, the
  first reading after its last touched day whose value differs from the reading just
  after it (null: no such reading, the window is open on that side).
  PostgreSQL walks the unique index per signal; DuckDB aggregates in hash joins.
#}
{% macro flat_windows_query(measurements) -%}
    {{ return(adapter.dispatch('flat_windows_query')(measurements)) }}
{%- endmacro %}

{% macro flat_window_touched() -%}
    select
        signal_id,
        cast(min(day_utc) as timestamp) as touched_from,
        {{ dbt.dateadd('day', 1, 'cast(max(day_utc) as timestamp)') }} as touched_until
    from {{ refresh_state('batch_pairs') }}
    group by signal_id
{%- endmacro %}

{% macro default__flat_windows_query(measurements) -%}
    with touched as (
        {{ flat_window_touched() }}
    ),
    neighbours as (
        select touched.signal_id, touched.touched_from, touched.touched_until,
               before_touched.value as value_before, after_touched.value as value_after
        from touched
        left join lateral (
            select m.value from {{ measurements }} as m
            where m.signal_id = touched.signal_id and m.measured_at < touched.touched_from
            order by m.measured_at desc
            limit 1
        ) as before_touched on true
        left join lateral (
            select m.value from {{ measurements }} as m
            where m.signal_id = touched.signal_id and m.measured_at >= touched.touched_until
            order by m.measured_at
            limit 1
        ) as after_touched on true
    )
    select
        neighbours.signal_id,
        change_before.measured_at as window_after,
        change_after.measured_at as window_before
    from neighbours
    left join lateral (
        select m.measured_at from {{ measurements }} as m
        where m.signal_id = neighbours.signal_id and m.measured_at < neighbours.touched_from
          and m.value <> neighbours.value_before
        order by m.measured_at desc
        limit 1
    ) as change_before on true
    left join lateral (
        select m.measured_at from {{ measurements }} as m
        where m.signal_id = neighbours.signal_id and m.measured_at >= neighbours.touched_until
          and m.value <> neighbours.value_after
        order by m.measured_at
        limit 1
    ) as change_after on true
{%- endmacro %}

{% macro duckdb__flat_windows_query(measurements) -%}
    with touched as (
        {{ flat_window_touched() }}
    ),
    neighbours as (
        select
            touched.signal_id,
            arg_max(case when m.measured_at < touched.touched_from then m.value end,
                    case when m.measured_at < touched.touched_from then m.measured_at end) as value_before,
            arg_min(case when m.measured_at >= touched.touched_until then m.value end,
                    case when m.measured_at >= touched.touched_until then m.measured_at end) as value_after
        from touched
        inner join {{ measurements }} as m
            on m.signal_id = touched.signal_id
            and (m.measured_at < touched.touched_from or m.measured_at >= touched.touched_until)
        group by touched.signal_id
    ),
    changes as (
        select
            touched.signal_id,
            max(case when m.measured_at < touched.touched_from and m.value <> neighbours.value_before
                     then m.measured_at end) as window_after,
            min(case when m.measured_at >= touched.touched_until and m.value <> neighbours.value_after
                     then m.measured_at end) as window_before
        from touched
        inner join neighbours on neighbours.signal_id = touched.signal_id
        inner join {{ measurements }} as m
            on m.signal_id = touched.signal_id
            and (m.measured_at < touched.touched_from or m.measured_at >= touched.touched_until)
        group by touched.signal_id
    )
    select touched.signal_id, changes.window_after, changes.window_before
    from touched
    left join changes on changes.signal_id = touched.signal_id
{%- endmacro %}

{#
  Pre-hooks of signal_flatlines. A stretch of one unchanged value can reach far beyond the
  batch's days, so for each touched signal the window recomputed runs from just after the
  last value change before its first touched day to just before the first value change
  after its last touched day. Readings outside the touched days did not change, so every
  stretch that changed lies inside the window, and the window's edges are stretch edges.
  The stretches deleted here are kept in flat_runs_replaced: their days must be flagged
  anew.
#}
{% macro flat_runs_pre_hooks() -%}
    {#- Whatever this run does, the scope of its tests must not be an earlier run's window. -#}
    {%- set forget_windows = ["drop table if exists " ~ refresh_state('flat_windows')] -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(hook_statements(forget_windows) if execute else '') }}
    {%- endif -%}
    {%- set batch = current_refresh_batch() -%}
    {%- if batch is none or batch.mode != 'incremental' -%}
        {{ return(hook_statements(forget_windows + [delete_rows(this)])) }}
    {%- endif -%}
    {%- set measurements = ref('measurements') -%}
    {{ return(hook_statements([
        "drop table if exists " ~ refresh_state('flat_windows'),
        "create table " ~ refresh_state('flat_windows') ~ " as " ~ flat_windows_query(measurements),
        analyze_state('flat_windows'),
        "drop table if exists " ~ refresh_state('flat_runs_replaced'),
        "create table " ~ refresh_state('flat_runs_replaced') ~ " as
         select runs.signal_id, runs.run_start_at, runs.run_end_at
         from " ~ this ~ " as runs
         where " ~ in_flat_window('runs'),
        "delete from " ~ this ~ " as runs where " ~ in_flat_window('runs'),
    ])) }}
{%- endmacro %}

{#
  Pre-hooks of signal_daily_quality: record signals whose plausible range changed as
  pending, then fix the days to recompute (quality_days) and delete their rows:
    - the batch's pairs (their readings changed);
    - every day a changed stuck stretch overlaps, before or after this run;
    - when the end of the data moved: every signal's days between the old and the new end;
    - when a signal's first reading moved: the days between the old and the new first day;
    - every day, old or new, of a pending signal (added, removed, or its range changed),
      and of a signal that gained its first or lost its last reading.
  The previous state is read from this table itself, which always reflects one complete
  earlier state of the data (it changes only in one transaction with this hook).
  quality_bounds keeps each signal's first and last reading for the model.
#}
{% macro daily_quality_pre_hooks() -%}
    {%- set forget_days = ["drop table if exists " ~ refresh_state('quality_days')] -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(hook_statements(forget_days) if execute else '') }}
    {%- endif -%}
    {%- set batch = current_refresh_batch() -%}
    {%- if batch is none or batch.mode != 'incremental' -%}
        {{ return(hook_statements(forget_days + [delete_rows(this)])) }}
    {%- endif -%}
    {%- set signals = ref('signals') -%}
    {%- set flat_runs = ref('signal_flatlines') -%}
    {{ return(hook_statements([
        "insert into " ~ refresh_state('pending_signals') ~ " (signal_id)
         select signal_id
         from (
             (select signal_id, plausible_min, plausible_max from " ~ signals ~ "
              except
              select signal_id, plausible_min, plausible_max from " ~ refresh_state('applied_signals') ~ ")
             union
             (select signal_id, plausible_min, plausible_max from " ~ refresh_state('applied_signals') ~ "
              except
              select signal_id, plausible_min, plausible_max from " ~ signals ~ ")
         ) as changed
         where signal_id not in (select signal_id from " ~ refresh_state('pending_signals') ~ ")",
        "drop table if exists " ~ refresh_state('quality_bounds'),
        "create table " ~ refresh_state('quality_bounds') ~ " as " ~ signal_reading_bounds(ref('measurements'), signals),
        analyze_state('quality_bounds'),
        "drop table if exists " ~ refresh_state('quality_days'),
        "create table " ~ refresh_state('quality_days') ~ " as
         with end_times as (
             select
                 (select max(last_at) from " ~ refresh_state('quality_bounds') ~ ") as new_end_at,
                 (select max(last_at) from " ~ this ~ "
                  where day_utc = (select max(day_utc) from " ~ this ~ ")) as old_end_at
         ),
         ends as (
             select new_end_at, old_end_at,
                    cast(new_end_at as date) as new_end_day, cast(old_end_at as date) as old_end_day
             from end_times
         ),
         previous_first as (
             select signal_id, min(first_at) as first_at
             from " ~ this ~ "
             where signal_id in (select signal_id from " ~ refresh_state('batch_pairs') ~ "
                                 union
                                 select signal_id from " ~ refresh_state('pending_signals') ~ ")
             group by signal_id
         ),
         " ~ bound_change_days(refresh_state('batch_pairs'), refresh_state('pending_signals'), 'previous_first',
                               refresh_state('quality_bounds'), 'ends.old_end_at <> ends.new_end_at',
                               'previous_first.first_at <> bounds.first_at') ~ ",
         stretches as (
             select signal_id, run_start_at, run_end_at from " ~ refresh_state('flat_runs_replaced') ~ "
             union all
             select runs.signal_id, runs.run_start_at, runs.run_end_at
             from " ~ flat_runs ~ " as runs
             where " ~ in_flat_window('runs') ~ "
         ),
         candidates as (
             select signal_id, day_utc from " ~ refresh_state('batch_pairs') ~ "
             union all
             select signal_id, " ~ day_series('cast(run_start_at as date)', 'cast(run_end_at as date)') ~ " as day_utc
             from stretches
             union all
             select signal_id, day_utc from bound_change_days
         )
         select distinct signal_id, day_utc
         from candidates
         where day_utc is not null",
        analyze_state('quality_days'),
        "delete from " ~ this ~ "
         where (signal_id, day_utc) in (select signal_id, day_utc from " ~ refresh_state('quality_days') ~ ")",
    ])) }}
{%- endmacro %}
