{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ time_weight_pre_hooks('interval_start_utc') }}",
        post_hook="{{ record_data_end() }}",
        indexes=[{'columns': ['signal_id', 'interval_start_utc'], 'unique': true}] if target.type == 'postgres' else [],
    )
}}
-- Time-weighted figures per signal and 15-minute UTC interval, the settlement interval of
-- European power markets: every interval that a reading falls in or that a reading's
-- value is held into (macros/time_weight.sql), with the energy of power signals.
-- Incremental: the pre-hook fixes the (signal, day) pairs to recompute (the batch's, the
-- days their values are carried into, the days the end of the data moved over) and
-- deletes their intervals; this query recomputes them.
{%- set batch = refresh_batch() %}

with readings as (

    select
        measurements.signal_id,
        measurements.measured_at,
        measurements.value
    from {{ ref('measurements') }} as measurements
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('measurements.signal_id', 'measurements.measured_at', pairs=this.identifier ~ '_reading_days') }}
    {%- endif %}

),

data_end as (

    {%- if batch.mode == 'incremental' %}
    select max(last_at) as data_end_at from {{ time_weight_state('bounds') }}
    {%- else %}
    -- from each signal's last reading (an index walk on PostgreSQL), not from `readings`:
    -- read twice, that would be materialized
    select max(last_at) as data_end_at
    from ({{ signal_time_bounds(ref('measurements'), 'measured_at', 'select signal_id from ' ~ ref('signals')) }}) as bounds
    {%- endif %}

),

holds as (

    {{ hold_intervals('readings', 'data_end') }}

),

pieces as (

    {{ hold_pieces('holds', '15 minutes') }}

),

intervals as (

    {{ time_weighted_buckets('pieces', '15 minutes') }}

)

select
    intervals.signal_id,
    cast(intervals.bucket_at as timestamp) as interval_start_utc,
    cast(intervals.readings as bigint) as readings,
    cast(intervals.covered_seconds as {{ type_double() }}) as covered_seconds,
    cast(intervals.avg_time_weighted as {{ type_double() }}) as avg_time_weighted,
    intervals.min,
    intervals.max,
    intervals.value_at_start,
    {{ energy_columns('intervals.integral', 'intervals.covered_microseconds', 'signals.unit') }},
    cast(intervals.integral as {{ type_double() }}) as integral
from intervals
{%- if batch.mode == 'incremental' %}
{{ join_batch_pairs('intervals.signal_id', 'intervals.bucket_at', pairs=this.identifier ~ '_days') }}
{%- endif %}
inner join {{ ref('signals') }} as signals
    on signals.signal_id = intervals.signal_id
