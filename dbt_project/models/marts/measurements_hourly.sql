{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ time_weight_pre_hooks('hour_utc') }}",
        post_hook="{{ record_data_end() }}",
        indexes=[{'columns': ['signal_id', 'hour_utc'], 'unique': true}] if target.type == 'postgres' else [],
    )
}}
-- Readings per signal and UTC hour with readings: count, extremes, the arithmetic mean of
-- the readings, first and last value; and the time-weighted average over the hour, which
-- counts the value carried in from the hour before, added up from the hour's four
-- 15-minute intervals (macros/time_weight.sql).
-- Incremental: the pre-hook fixes the (signal, day) pairs to recompute (the batch's, the
-- days their values are carried into, the days the end of the data moved over) and
-- deletes their hours; this query recomputes them.
-- The pre-hook reads the catalogue: depends_on: {{ ref('signals') }}
{%- set batch = refresh_batch() %}

with readings as (

    select
        measurements.signal_id,
        {{ dbt.date_trunc('hour', 'measurements.measured_at') }} as hour_utc,
        measurements.measured_at,
        measurements.value
    from {{ ref('measurements') }} as measurements
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('measurements.signal_id', 'measurements.measured_at', pairs=this.identifier ~ '_days') }}
    {%- endif %}

),

intervals as (

    select intervals.*
    from {{ ref('measurements_15min') }} as intervals
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('intervals.signal_id', 'intervals.interval_start_utc', pairs=this.identifier ~ '_days') }}
    {%- endif %}

),

time_weighted as (

    {{ time_weighted_rollup('intervals', 'hour') }}

),

arithmetic as (

    select
        signal_id,
        hour_utc,
        count(*) as n,
        min(value) as min,
        max(value) as max,
        -- averaged as exact decimals, so that the result does not depend on summation order
        avg(cast(value as decimal(38, 10))) as avg,
        {{ first_by('value', 'measured_at') }} as first_value,
        {{ last_by('value', 'measured_at') }} as last_value
    from readings
    group by signal_id, hour_utc

)

select
    arithmetic.signal_id,
    cast(arithmetic.hour_utc as timestamp) as hour_utc,
    cast(arithmetic.n as bigint) as n,
    arithmetic.min,
    arithmetic.max,
    cast(arithmetic.avg as {{ type_double() }}) as avg,
    arithmetic.first_value,
    arithmetic.last_value,
    cast(time_weighted.covered_seconds as {{ type_double() }}) as covered_seconds,
    cast(time_weighted.avg_time_weighted as {{ type_double() }}) as avg_time_weighted
from arithmetic
-- every hour with a reading has the interval of that reading
inner join time_weighted
    on time_weighted.signal_id = arithmetic.signal_id
    and time_weighted.bucket_at = cast(arithmetic.hour_utc as timestamp)
