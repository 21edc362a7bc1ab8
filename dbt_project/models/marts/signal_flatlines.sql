{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ flat_runs_pre_hooks() }}",
        indexes=[{'columns': ['signal_id', 'run_start_at']}] if target.type == 'postgres' else [],
    )
}}
-- Stuck stretches: runs of consecutive readings of one signal with one unchanged value,
-- long enough to mean a stuck sensor: at least var('flatline_min_readings') readings
-- spanning at least var('flatline_hours') hours. Report-by-exception sensors write only
-- when the value moves; a few equal readings in a row happen through quantisation,
-- dozens over hours mean the sensor is stuck. signal_daily_quality flags the days a
-- stretch overlaps. Incremental: each touched signal's window around its touched days
-- (macros/daily_quality_batch.sql) is recomputed.
{%- set batch = refresh_batch() %}
{%- set flatline_seconds = var('flatline_hours') | float * 3600 %}
{%- set flatline_readings = var('flatline_min_readings') | int %}

with readings as (

    select measurements.signal_id, measurements.measured_at, measurements.value
    from {{ ref('measurements') }} as measurements
    {%- if batch.mode == 'incremental' %}
    inner join {{ refresh_state('flat_windows') }} as flat_window
        on flat_window.signal_id = measurements.signal_id
        and (flat_window.window_after is null or measurements.measured_at > flat_window.window_after)
        and (flat_window.window_before is null or measurements.measured_at < flat_window.window_before)
    {%- endif %}

),

neighbours as (

    select
        *,
        lag(value) over by_time as previous_value,
        lead(value) over by_time as next_value
    from readings
    window by_time as (partition by signal_id order by measured_at)

),

repeated as (

    -- report-by-exception readings mostly differ from both neighbours; only readings
    -- equal to one of them can be part of a stretch, and only they go on
    select *
    from neighbours
    where value = previous_value or value = next_value

),

runs as (

    -- a run: consecutive readings of one signal with the same value (numbered by the
    -- readings that differ from their predecessor in the full sequence)
    select
        signal_id,
        measured_at,
        value,
        sum(case when previous_value = value then 0 else 1 end)
            over (partition by signal_id order by measured_at rows between unbounded preceding and current row) as run_number
    from repeated

)

select
    signal_id,
    min(measured_at) as run_start_at,
    max(measured_at) as run_end_at,
    cast(count(*) as bigint) as readings,
    min(value) as value
from runs
group by signal_id, run_number
having count(*) >= {{ flatline_readings }}
   and {{ seconds_between('min(measured_at)', 'max(measured_at)') }} >= {{ flatline_seconds }}
