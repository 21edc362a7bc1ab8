{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ time_weight_pre_hooks('day_utc') }}",
        post_hook="{{ record_data_end() }}",
        indexes=[{'columns': ['signal_id', 'day_utc'], 'unique': true}] if target.type == 'postgres' else [],
    )
}}
-- Time-weighted figures per signal and UTC day (macros/time_weight.sql), for every day
-- from the signal's first reading to the end of the data, as in signal_daily_quality:
-- the time-weighted average, how much of the day's window the held values cover, and the
-- energy of power signals, added up from the day's 15-minute intervals. The day's window
-- is the part of the day the signal could have reported in: from midnight, or its first
-- reading ever, to the next midnight, or the end of the data.
-- Incremental: the pre-hook fixes the (signal, day) pairs to recompute (the batch's, the
-- days their values are carried into, the days the end of the data or a signal's first
-- reading moved over) and deletes their rows; this query recomputes them.
{%- set batch = refresh_batch() %}

with intervals as (

    select intervals.*
    from {{ ref('measurements_15min') }} as intervals
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('intervals.signal_id', 'intervals.interval_start_utc', pairs=this.identifier ~ '_days') }}
    {%- endif %}

),

time_weighted as (

    {{ time_weighted_rollup('intervals', 'day') }}

),

{%- if batch.mode == 'incremental' %}

{{ recomputed_days(time_weight_state('bounds'), time_weight_state('days')) }}
{%- else %}

signal_bounds as (

    {{ signal_time_bounds(ref('measurements'), 'measured_at', 'select signal_id from ' ~ ref('signals')) }}

),

data_end as (

    select max(last_at) as data_end_at
    from signal_bounds

),

days as (

    select
        signal_id,
        first_at as signal_first_at,
        {{ day_series('cast(first_at as date)', 'cast(data_end.data_end_at as date)') }} as day_utc
    from signal_bounds
    cross join data_end

),
{%- endif %}

day_windows as (

    select
        days.signal_id,
        days.day_utc,
        {{ microseconds_between(
            'greatest(cast(days.day_utc as timestamp), days.signal_first_at)',
            'least(' ~ dbt.dateadd('day', 1, 'cast(days.day_utc as timestamp)') ~ ', data_end.data_end_at)') }} as window_microseconds
    from days
    cross join data_end

)

select
    day_windows.signal_id,
    cast(day_windows.day_utc as date) as day_utc,
    cast(coalesce(time_weighted.readings, 0) as bigint) as readings,
    cast(coalesce(time_weighted.covered_seconds, 0) as {{ type_double() }}) as covered_seconds,
    cast(
        case
            when day_windows.window_microseconds > 0
                then cast(coalesce(time_weighted.covered_microseconds, 0) as {{ type_double() }})
                     / cast(day_windows.window_microseconds as {{ type_double() }})
        end
        as {{ type_double() }}
    ) as coverage_share,
    cast(time_weighted.avg_time_weighted as {{ type_double() }}) as avg_time_weighted,
    time_weighted.min,
    time_weighted.max,
    {{ energy_columns('time_weighted.integral', 'time_weighted.covered_microseconds', 'signals.unit') }}
from day_windows
inner join {{ ref('signals') }} as signals
    on signals.signal_id = day_windows.signal_id
left join time_weighted
    on time_weighted.signal_id = day_windows.signal_id
    and time_weighted.bucket_at = cast(day_windows.day_utc as timestamp)
