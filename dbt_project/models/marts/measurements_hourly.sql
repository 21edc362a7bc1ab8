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
        signal_id,
        {{ dbt.date_trunc('hour', 'measured_at') }} as hour_utc,
        measured_at,
        value
    from {{ ref('measurements') }} as measurements
    {%- if batch.mode == 'incremental' %}
    where {{ on_batch_pairs('measurements.signal_id', 'measurements.measured_at') }}
    {%- endif %}

),

ordered as (

    select
        *,
        row_number() over (partition by signal_id, hour_utc order by measured_at) as from_start,
        row_number() over (partition by signal_id, hour_utc order by measured_at desc) as from_end
    from readings

)

select
    signal_id,
    cast(hour_utc as timestamp) as hour_utc,
    cast(count(*) as bigint) as n,
    min(value) as min,
    max(value) as max,
    -- averaged as exact decimals, so that the result does not depend on summation order
    cast(avg(cast(value as decimal(38, 10))) as double precision) as avg,
    max(case when from_start = 1 then value end) as first_value,
    max(case when from_end = 1 then value end) as last_value
from ordered
group by signal_id, hour_utc
