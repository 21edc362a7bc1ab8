{#
  Time-weighted figures of report-by-exception readings, for measurements_15min,
  measurements_hourly and signal_daily (the method and a worked example:
  dbt_project/README.md#time-weighted-figures).

  For one signal, readings ordered by time: reading i (value v_i at t_i) holds over
  [t_i, e_i), where e_i is the earliest of the next reading's time, t_i plus
  var('time_weight_max_hold_seconds') and the end of the data (the latest reading of any
  signal). For a bucket [s, s + L):
    covered_seconds     total length of the hold intervals inside the bucket
    integral            sum of v_i x (length of [t_i, e_i) inside the bucket)
    avg_time_weighted   integral / covered_seconds (null when nothing covers the bucket)
  A value carried in from before the bucket counts: the bucket's edge splits its interval.

  The steps, one macro each, chained as CTEs by the marts:
    hold_intervals          readings -> one hold interval per reading
    hold_pieces             intervals -> one piece per interval and bucket it reaches
    time_weighted_buckets   pieces -> the figures per signal and bucket
    time_weighted_rollup    15-minute figures -> the figures of the hours or days they
                            make up
  measurements_15min splits the hold intervals at 15-minute edges, which are hour and day
  edges too; measurements_hourly and signal_daily add up its intervals instead of
  splitting the intervals again: the same figures, without sorting every reading three
  times (the next reading of each one is a window over all of them).
#}

{# The bucket sizes the marts use: length in seconds and as an SQL interval. #}
{% macro time_weight_bucket(bucket) -%}
    {%- set buckets = {
        '15 minutes': {'seconds': 900, 'interval': "interval '15 minutes'"},
        'hour': {'seconds': 3600, 'interval': "interval '1 hour'"},
        'day': {'seconds': 86400, 'interval': "interval '1 day'"},
    } -%}
    {%- if bucket not in buckets -%}
        {{ exceptions.raise_compiler_error("time-weighted bucket '" ~ bucket ~ "' is not one of " ~ (buckets.keys() | list)) }}
    {%- endif -%}
    {{ return(buckets[bucket]) }}
{%- endmacro %}

{# var('time_weight_max_hold_seconds'): how long a reading holds at most without a next one. #}
{% macro max_hold_seconds() -%}
    {%- set seconds = var('time_weight_max_hold_seconds') | int -%}
    {%- if seconds <= 0 -%}
        {{ exceptions.raise_compiler_error("var time_weight_max_hold_seconds must be a positive number of seconds, found " ~ var('time_weight_max_hold_seconds')) }}
    {%- endif -%}
    {{ return(seconds) }}
{%- endmacro %}

{# How many UTC days after its own a reading's hold can reach (1 for any limit up to a day). #}
{% macro hold_reach_days() -%}
    {{ return(((max_hold_seconds() + 86399) // 86400) | int) }}
{%- endmacro %}

{# Start of the bucket that `timestamp` falls in; buckets start at UTC midnight. #}
{% macro bucket_start(timestamp, bucket) -%}
    {%- do time_weight_bucket(bucket) -%}
    {%- if bucket == '15 minutes' -%}
        {{ return(adapter.dispatch('quarter_hour_start')(timestamp)) }}
    {%- endif -%}
    cast({{ dbt.date_trunc(bucket, timestamp) }} as timestamp)
{%- endmacro %}

{% macro default__quarter_hour_start(timestamp) -%}
    {{ dbt.dateadd('minute', '15 * cast(floor(extract(minute from ' ~ timestamp ~ ') / 15) as integer)',
                   'cast(' ~ dbt.date_trunc('hour', timestamp) ~ ' as timestamp)') }}
{%- endmacro %}

{% macro postgres__quarter_hour_start(timestamp) -%}
    date_bin(interval '15 minutes', {{ timestamp }}, timestamp '2000-01-01')
{%- endmacro %}

{# DuckDB's buckets of minutes start at 2000-01-03 00:00, a midnight. #}
{% macro duckdb__quarter_hour_start(timestamp) -%}
    time_bucket(interval '15 minutes', {{ timestamp }})
{%- endmacro %}

{# Whole quarter hours since 1970-01-01 00:00 UTC (the session's zone), in microseconds. #}
{% macro spark__quarter_hour_start(timestamp) -%}
    timestamp_micros(unix_micros({{ timestamp }}) - pmod(unix_micros({{ timestamp }}), 900000000))
{%- endmacro %}

{# Every bucket start from `first` to `last` (timestamps, both included), in a select list. #}
{% macro bucket_series(first, last, bucket) -%}
    {{ return(adapter.dispatch('bucket_series')(first, last, time_weight_bucket(bucket).interval)) }}
{%- endmacro %}

{% macro default__bucket_series(first, last, step) -%}
    generate_series({{ first }}, {{ last }}, {{ step }})
{%- endmacro %}

{% macro duckdb__bucket_series(first, last, step) -%}
    unnest(generate_series({{ first }}, {{ last }}, {{ step }}))
{%- endmacro %}

{% macro spark__bucket_series(first, last, step) -%}
    explode(sequence({{ first }}, {{ last }}, {{ step }}))
{%- endmacro %}

{# Whole microseconds from timestamp `start` to timestamp `finish`, as a bigint (exact on both warehouses). #}
{% macro microseconds_between(start, finish) -%}
    {{ return(adapter.dispatch('microseconds_between')(start, finish)) }}
{%- endmacro %}

{% macro default__microseconds_between(start, finish) -%}
    cast(extract(epoch from ({{ finish }}) - ({{ start }})) * 1000000 as bigint)
{%- endmacro %}

{% macro duckdb__microseconds_between(start, finish) -%}
    (epoch_us({{ finish }}) - epoch_us({{ start }}))
{%- endmacro %}

{% macro spark__microseconds_between(start, finish) -%}
    (unix_micros({{ finish }}) - unix_micros({{ start }}))
{%- endmacro %}

{#
  One hold interval per reading: held_from (its time) to held_until. `readings` has
  signal_id, measured_at, value; `data_end` is a one-row relation with data_end_at, the
  end of the data. The next reading must be among `readings` whenever it lies within the
  hold limit (an incremental build reads whole days around the days it recomputes).
#}
{% macro hold_intervals(readings, data_end) -%}
    select
        readings.signal_id,
        readings.value,
        readings.measured_at as held_from,
        least(
            coalesce(lead(readings.measured_at) over (partition by readings.signal_id order by readings.measured_at),
                     data_end.data_end_at),
            {{ dbt.dateadd('second', max_hold_seconds(), 'readings.measured_at') }},
            data_end.data_end_at
        ) as held_until
    from {{ readings }} as readings
    cross join {{ data_end }} as data_end
{%- endmacro %}

{#
  The hold intervals split at bucket edges: one piece per interval and bucket it reaches,
  bucket_at being the bucket's start. Every interval has a piece in its own reading's
  bucket (even an empty interval: the last reading of the data holds for no time, yet it
  was read in that bucket); an interval that crosses an edge also has one piece in each
  later bucket it reaches into.
#}
{% macro hold_pieces(intervals, bucket) -%}
    {%- set step = time_weight_bucket(bucket).interval -%}
    {%- set own_bucket = bucket_start('held_from', bucket) -%}
    select signal_id, value, held_from, held_until, {{ own_bucket }} as bucket_at
    from {{ intervals }}
    union all
    select
        signal_id, value, held_from, held_until,
        {{ bucket_series('(' ~ own_bucket ~ ' + ' ~ step ~ ')', "(held_until - interval '1 microsecond')", bucket) }} as bucket_at
    from {{ intervals }}
    where held_until > {{ own_bucket }} + {{ step }}
{%- endmacro %}

{#
  The figures per signal and bucket from the pieces:
    readings               readings in the bucket
    covered_microseconds   exact coverage (bigint), and covered_seconds from it
    integral               sum of value x seconds held in the bucket, as an exact decimal
                           sum of the rounded products, so that it does not depend on the
                           order the rows are added in (an incremental build adds other
                           rows in another order than a full one)
    avg_time_weighted      integral / covered_seconds, null when nothing covers the bucket
    min, max               over the values that hold in the bucket: its readings and the
                           value carried in from before its start
    value_at_start         the value holding at the bucket's start, null if none
#}
{% macro time_weighted_buckets(pieces, bucket) -%}
    {%- set step = time_weight_bucket(bucket).interval -%}
    {%- set per_bucket -%}
        select
            signal_id,
            bucket_at,
            count(case when held_from >= bucket_at then 1 end) as readings,
            sum(piece_microseconds) as covered_microseconds,
            sum(cast(value * (cast(piece_microseconds as {{ type_double() }}) / 1000000) as decimal(38, 15))) as integral,
            min(value) as min,
            max(value) as max,
            max(case when held_from <= bucket_at and held_until > bucket_at then value end) as value_at_start
        from (
            select
                signal_id, value, held_from, held_until, bucket_at,
                {{ microseconds_between('greatest(held_from, bucket_at)', 'least(held_until, bucket_at + ' ~ step ~ ')') }} as piece_microseconds
            from {{ pieces }}
        ) as measured_pieces
        group by signal_id, bucket_at
    {%- endset -%}
    {{ time_weighted_figures(per_bucket) }}
{%- endmacro %}

{#
  The same figures for the hours or days (`bucket`) that 15-minute rows (`intervals`,
  measurements_15min or its rows of some days) make up: their sums, extremes, and the
  value at the start of the first. Coverage is summed in whole microseconds and the
  integrals as decimals, so that the sums do not depend on the order either.
#}
{% macro time_weighted_rollup(intervals, bucket) -%}
    {%- set per_bucket -%}
        select
            signal_id,
            bucket_at,
            sum(readings) as readings,
            sum(cast(round(covered_seconds * 1000000) as bigint)) as covered_microseconds,
            sum(cast(integral as decimal(38, 15))) as integral,
            min(min) as min,
            max(max) as max,
            max(case when interval_start_utc = bucket_at then value_at_start end) as value_at_start
        from (
            select intervals.*, {{ bucket_start('intervals.interval_start_utc', bucket) }} as bucket_at
            from {{ intervals }} as intervals
        ) as in_buckets
        group by signal_id, bucket_at
    {%- endset -%}
    {{ time_weighted_figures(per_bucket) }}
{%- endmacro %}

{# The figures from per-bucket sums (`per_bucket`: readings, covered_microseconds, integral, min, max, value_at_start). #}
{% macro time_weighted_figures(per_bucket) -%}
    select
        signal_id,
        bucket_at,
        readings,
        covered_microseconds,
        cast(covered_microseconds as {{ type_double() }}) / 1000000 as covered_seconds,
        integral,
        case
            when covered_microseconds > 0
                then cast(integral as {{ type_double() }}) / (cast(covered_microseconds as {{ type_double() }}) / 1000000)
        end as avg_time_weighted,
        min,
        max,
        value_at_start
    from (
        {{ per_bucket }}
    ) as per_bucket
{%- endmacro %}

{#
  Energy from the integral (value x seconds) of a power signal, by its unit: active power
  (kW, MW) as energy_kwh, reactive power (MVAr) as reactive_energy_kvarh; null for other
  units and when nothing covers the bucket. Two columns for a select list.
#}
{% macro energy_columns(integral, covered_microseconds, unit) -%}
    {%- set seconds_per_hour = 3600 -%}
    case
        when {{ covered_microseconds }} > 0 and {{ unit }} = 'kW'
            then cast({{ integral }} as {{ type_double() }}) / {{ seconds_per_hour }}
        when {{ covered_microseconds }} > 0 and {{ unit }} = 'MW'
            then cast({{ integral }} as {{ type_double() }}) * 1000 / {{ seconds_per_hour }}
    end as energy_kwh,
    case
        when {{ covered_microseconds }} > 0 and {{ unit }} = 'MVAr'
            then cast({{ integral }} as {{ type_double() }}) * 1000 / {{ seconds_per_hour }}
    end as reactive_energy_kvarh
{%- endmacro %}


{# ---- Incremental builds of the three marts (see dbt_project/README.md#incremental-builds) ---- #}

{# This mart's own state table `<model>_<name>` in refresh_state (the marts build in parallel). #}
{% macro time_weight_state(name) -%}
    {{ return(refresh_state(this.identifier ~ '_' ~ name)) }}
{%- endmacro %}

{#
  Every signal's first and last `time_column` in `relation`, for the signals the query
  `signal_ids` selects. PostgreSQL walks the unique (signal_id, time) index per signal;
  DuckDB aggregates.
#}
{% macro signal_time_bounds(relation, time_column, signal_ids) -%}
    {{ return(adapter.dispatch('signal_time_bounds')(relation, time_column, signal_ids)) }}
{%- endmacro %}

{% macro default__signal_time_bounds(relation, time_column, signal_ids) -%}
    select signal_id, min({{ time_column }}) as first_at, max({{ time_column }}) as last_at
    from {{ relation }}
    where signal_id in ({{ signal_ids }})
    group by signal_id
{%- endmacro %}

{% macro postgres__signal_time_bounds(relation, time_column, signal_ids) -%}
    select signals.signal_id, first_row.at as first_at, last_row.at as last_at
    from ({{ signal_ids }}) as signals
    cross join lateral (
        select r.{{ time_column }} as at from {{ relation }} as r
        where r.signal_id = signals.signal_id
        order by r.{{ time_column }}
        limit 1
    ) as first_row
    cross join lateral (
        select r.{{ time_column }} as at from {{ relation }} as r
        where r.signal_id = signals.signal_id
        order by r.{{ time_column }} desc
        limit 1
    ) as last_row
{%- endmacro %}

{#
  Signals whose unit changed since the marts were last applied become pending: their
  energy columns change on every row. (Membership changes are recorded at the start of
  the run, range changes by signal_daily_quality's pre-hook.)
#}
{% macro record_unit_changes() -%}
    {%- set signals = ref('signals') -%}
    insert into {{ refresh_state('pending_signals') }} (signal_id)
    select signal_id
    from (
        (select signal_id, unit from {{ signals }}
         except
         select signal_id, unit from {{ refresh_state('applied_signals') }})
        union
        (select signal_id, unit from {{ refresh_state('applied_signals') }}
         except
         select signal_id, unit from {{ signals }})
    ) as changed
    where signal_id not in (select signal_id from {{ refresh_state('pending_signals') }})
{%- endmacro %}

{#
  Pre-hook of the three time-weighted marts, whose rows are keyed by signal and a bucket
  (`time_column`; every bucket lies inside one UTC day). It fixes the (signal, day)
  pairs to recompute, `<model>_days`, and deletes their rows:
    - the batch's pairs (their readings changed) and the hold_reach_days() days after
      each: the value carried in at their start may have changed (the last reading of a
      touched day, or the one before a removed reading, holds into the next day);
    - when the end of the data moved: every signal's days between the old and the new
      end (the last reading of each signal is held until the end at most, so buckets
      after every signal's last reading change); the old end is the one `<model>_end`
      recorded in the same transaction as the table's rows (record_data_end);
    - when a signal's first reading moved to another day: the days between (its daily
      window starts with its first reading);
    - every day, old or new, of a pending signal (added, removed, or its unit changed).
  The previous state is read from this table itself, which always reflects one complete
  earlier state of the data. `<model>_reading_days` are the days whose readings the
  model reads: those days and hold_reach_days() on either side, so that every value
  carried into them and every next reading within the hold limit are there.
  `<model>_bounds` keeps each signal's first and last reading for the model.
#}
{% macro time_weight_pre_hooks(time_column) -%}
    {%- set days = time_weight_state('days') -%}
    {#- Whatever this run does, neither the scope of its tests nor its post-hook may read an earlier run's state. -#}
    {%- set forget_days = ["drop table if exists " ~ days, "drop table if exists " ~ time_weight_state('bounds')] -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(hook_statements(forget_days) if execute else '') }}
    {%- endif -%}
    {%- set batch = current_refresh_batch() -%}
    {%- if batch is none or batch.mode != 'incremental' -%}
        {{ return(hook_statements(forget_days + [delete_rows(this)])) }}
    {%- endif -%}
    {%- set reach = hold_reach_days() -%}
    {#- The end of the data this table reflects; without its record, assume it moved. -#}
    {%- if refresh_state_exists(this.identifier ~ '_end') -%}
        {%- set old_end = "(select max(data_end_at) from " ~ time_weight_state('end') ~ ")" -%}
        {%- set end_moved = "ends.old_end_at is distinct from ends.new_end_at" -%}
    {%- else -%}
        {%- set old_end = "cast(null as timestamp)" -%}
        {%- set end_moved = "1 = 1" -%}
    {%- endif -%}
    {%- set bounds = time_weight_state('bounds') -%}
    {%- set previous_bounds = time_weight_state('previous_bounds') -%}
    {%- set reading_days = time_weight_state('reading_days') -%}
    {%- set pending = refresh_state('pending_signals') -%}
    {%- set signals = ref('signals') -%}
    {%- set offsets = [] -%}
    {%- for offset in range(reach + 1) -%}
        {%- do offsets.append('select ' ~ offset ~ ' as day_offset') -%}
    {%- endfor -%}
    {%- set reading_offsets = [] -%}
    {%- for offset in range(-reach, reach + 1) -%}
        {%- do reading_offsets.append('select ' ~ offset ~ ' as day_offset') -%}
    {%- endfor -%}
    {{ return(hook_statements([
        record_unit_changes(),
        "drop table if exists " ~ bounds,
        "create table " ~ bounds ~ " as "
            ~ signal_time_bounds(ref('measurements'), 'measured_at', 'select signal_id from ' ~ signals),
        "drop table if exists " ~ previous_bounds,
        "create table " ~ previous_bounds ~ " as "
            ~ signal_time_bounds(this, time_column, 'select signal_id from ' ~ signals ~ ' union select signal_id from ' ~ pending),
        analyze_state(this.identifier ~ '_bounds'),
        analyze_state(this.identifier ~ '_previous_bounds'),
        "drop table if exists " ~ days,
        "create table " ~ days ~ " as
         with end_times as (
             select
                 (select max(last_at) from " ~ bounds ~ ") as new_end_at,
                 " ~ old_end ~ " as old_end_at,
                 (select max(last_at) from " ~ previous_bounds ~ ") as old_last_at
         ),
         ends as (
             select
                 new_end_at,
                 old_end_at,
                 cast(new_end_at as date) as new_end_day,
                 cast(coalesce(old_end_at, old_last_at) as date) as old_end_day
             from end_times
         ),
         " ~ bound_change_days(refresh_state('batch_pairs'), pending, previous_bounds, bounds, end_moved,
                               'cast(previous_first.first_at as date) <> cast(bounds.first_at as date)') ~ ",
         candidates as (
             select batch_pair.signal_id,
                    cast(" ~ dbt.dateadd('day', 'offsets.day_offset', 'cast(batch_pair.day_utc as timestamp)') ~ " as date) as day_utc
             from " ~ refresh_state('batch_pairs') ~ " as batch_pair
             cross join (" ~ (offsets | join(' union all ')) ~ ") as offsets
             union all
             select signal_id, day_utc from bound_change_days
         )
         select distinct signal_id, day_utc
         from candidates
         where day_utc is not null",
        analyze_state(this.identifier ~ '_days'),
        "drop table if exists " ~ reading_days,
        "create table " ~ reading_days ~ " as
         select distinct
             days.signal_id,
             cast(" ~ dbt.dateadd('day', 'offsets.day_offset', 'cast(days.day_utc as timestamp)') ~ " as date) as day_utc
         from " ~ days ~ " as days
         cross join (" ~ (reading_offsets | join(' union all ')) ~ ") as offsets",
        analyze_state(this.identifier ~ '_reading_days'),
        "delete from " ~ this ~ " as target
         using " ~ days ~ " as batch_pair
         where " ~ batch_pair_condition('target.signal_id', 'target.' ~ time_column),
    ])) }}
{%- endmacro %}

{# The time-weighted marts and the bucket column each is keyed by (with signal_id). #}
{% macro time_weighted_marts() -%}
    {{ return({'measurements_15min': 'interval_start_utc', 'measurements_hourly': 'hour_utc', 'signal_daily': 'day_utc'}) }}
{%- endmacro %}

{#
  Post-hook of the three time-weighted marts: the end of the data their rows reflect, in
  refresh_state.<model>_end, written in the same transaction as the rows, so that the
  next refresh knows whether the end moved, even within a day.
#}
{% macro record_data_end() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set end_state = time_weight_state('end') -%}
    {#- The bounds the pre-hook read in this run (it drops them otherwise), or read them now. -#}
    {%- if refresh_state_exists(this.identifier ~ '_bounds') -%}
        {%- set bounds = "select last_at from " ~ time_weight_state('bounds') -%}
    {%- else -%}
        {%- set bounds = signal_time_bounds(ref('measurements'), 'measured_at', 'select signal_id from ' ~ ref('signals')) -%}
    {%- endif -%}
    {{ return(hook_statements([
        "create table if not exists " ~ end_state ~ " (data_end_at timestamp)",
        delete_rows(end_state),
        "insert into " ~ end_state ~ " (data_end_at) select max(last_at) from (" ~ bounds ~ ") as signal_bounds",
    ])) }}
{%- endmacro %}
