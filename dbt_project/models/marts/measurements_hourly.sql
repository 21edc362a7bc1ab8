{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_batch_rows('signal_id', 'hour_utc') }}",
        indexes=[{'columns': ['signal_id', 'hour_utc'], 'unique': true}] if target.type == 'postgres' else [],
    )
}}
-- Readings per signal and UTC hour. Incremental: the hours of the batch's (signal, day)
-- pairs are deleted and recomputed from all readings of those days.
{%- set batch = refresh_batch() %}

with readings as (

    select
        measurements.signal_id,
        {{ dbt.date_trunc('hour', 'measurements.measured_at') }} as hour_utc,
        measurements.measured_at,
        measurements.value
    from {{ ref('measurements') }} as measurements
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('measurements.signal_id', 'measurements.measured_at') }}
    {%- endif %}

)

select
    signal_id,
    cast(hour_utc as timestamp) as hour_utc,
    cast(count(*) as bigint) as n,
    min(value) as min,
    max(value) as max,
    -- averaged as exact decimals, so that the result does not depend on summation order
    cast(avg(cast(value as decimal(38, 10))) as double precision) as avg,
    {{ first_by('value', 'measured_at') }} as first_value,
    {{ last_by('value', 'measured_at') }} as last_value
from readings
group by signal_id, hour_utc
