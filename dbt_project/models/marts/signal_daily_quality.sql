{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ daily_quality_pre_hooks() }}",
        indexes=[
            {'columns': ['signal_id', 'day_utc'], 'unique': true},
            {'columns': ['day_utc']},
        ] if target.type == 'postgres' else [],
    )
}}
-- The health of every signal on every UTC day from its first reading to the end of the
-- data (the latest reading of any signal), days without readings included.
--   max_gap_seconds  the longest stretch of the day without a reading: between two
--                    readings, or from the day's start (or the signal's first reading
--                    ever) to its first reading, or from its last reading to the day's end
--                    (or the end of the data). A day without readings is one long gap.
--   flatline         the day overlaps a stuck stretch (signal_flatlines).
--   ambiguous_readings, skipped_hour_readings   readings whose local wall time daylight-
--                    saving time left uncertain (measurements.local_time_flag).
-- Incremental: the days fixed by the pre-hook (refresh_state.quality_days, see
-- macros/daily_quality_batch.sql) are recomputed; every other row stays.
{%- set batch = refresh_batch() %}

with signals as (

    select signal_id, plausible_min, plausible_max
    from {{ ref('signals') }}

),

readings as (

    select
        measurements.signal_id,
        measurements.measured_at,
        measurements.value,
        measurements.duplicates_dropped,
        measurements.local_time_flag,
        cast(measurements.measured_at as date) as day_utc
    from {{ ref('measurements') }} as measurements
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('measurements.signal_id', 'measurements.measured_at', pairs='quality_days') }}
    {%- endif %}

),

{%- if batch.mode == 'incremental' %}

{{ recomputed_days(refresh_state('quality_bounds'), refresh_state('quality_days')) }}
{%- else %}

data_end as (

    select max(measured_at) as data_end_at
    from readings

),

signal_span as (

    select
        signal_id,
        min(measured_at) as signal_first_at,
        min(day_utc) as first_day
    from readings
    group by signal_id

),

days as (

    select
        signal_id,
        signal_first_at,
        {{ day_series('first_day', 'cast(data_end.data_end_at as date)') }} as day_utc
    from signal_span
    cross join data_end

),
{%- endif %}

sequenced as (

    select
        readings.*,
        lag(measured_at) over (partition by signal_id, day_utc order by measured_at) as previous_at_same_day
    from readings

),

daily as (

    select
        sequenced.signal_id,
        sequenced.day_utc,
        count(*) as n,
        min(sequenced.measured_at) as first_at,
        max(sequenced.measured_at) as last_at,
        max({{ seconds_between('sequenced.previous_at_same_day', 'sequenced.measured_at') }}) as max_inner_gap_seconds,
        sum(sequenced.duplicates_dropped) as duplicates_dropped,
        sum(
            case
                when sequenced.value < signals.plausible_min or sequenced.value > signals.plausible_max then 1
                else 0
            end
        ) as out_of_range,
        sum(case when sequenced.local_time_flag = 'repeated_ambiguous' then 1 else 0 end) as ambiguous_readings,
        sum(case when sequenced.local_time_flag = 'skipped' then 1 else 0 end) as skipped_hour_readings
    from sequenced
    left join signals
        on signals.signal_id = sequenced.signal_id
    group by sequenced.signal_id, sequenced.day_utc

),

day_windows as (

    -- the part of each day the signal could have reported in
    select
        days.signal_id,
        days.day_utc,
        greatest(cast(days.day_utc as timestamp), days.signal_first_at) as window_start_at,
        least({{ dbt.dateadd('day', 1, 'cast(days.day_utc as timestamp)') }}, data_end.data_end_at) as window_end_at
    from days
    cross join data_end

),

flat_days as (

    select distinct
        day_windows.signal_id,
        day_windows.day_utc
    from day_windows
    inner join {{ ref('signal_flatlines') }} as flat_runs
        on flat_runs.signal_id = day_windows.signal_id
        and flat_runs.run_start_at < {{ dbt.dateadd('day', 1, 'cast(day_windows.day_utc as timestamp)') }}
        and flat_runs.run_end_at > cast(day_windows.day_utc as timestamp)

)

select
    day_windows.signal_id,
    day_windows.day_utc,
    cast(coalesce(daily.n, 0) as bigint) as n,
    daily.first_at,
    daily.last_at,
    cast(
        case
            when daily.n is null
                then {{ seconds_between('day_windows.window_start_at', 'day_windows.window_end_at') }}
            else greatest(
                {{ seconds_between('day_windows.window_start_at', 'daily.first_at') }},
                coalesce(daily.max_inner_gap_seconds, 0),
                {{ seconds_between('daily.last_at', 'day_windows.window_end_at') }}
            )
        end
        as {{ type_double() }}
    ) as max_gap_seconds,
    cast(coalesce(daily.duplicates_dropped, 0) as bigint) as duplicates_dropped,
    cast(coalesce(daily.out_of_range, 0) as bigint) as out_of_range,
    cast(coalesce(daily.ambiguous_readings, 0) as bigint) as ambiguous_readings,
    cast(coalesce(daily.skipped_hour_readings, 0) as bigint) as skipped_hour_readings,
    flat_days.signal_id is not null as flatline
from day_windows
left join daily
    on daily.signal_id = day_windows.signal_id
    and daily.day_utc = day_windows.day_utc
left join flat_days
    on flat_days.signal_id = day_windows.signal_id
    and flat_days.day_utc = day_windows.day_utc
