{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['signal_id', 'hour_utc'],
        on_schema_change='fail',
        pre_hook="{{ empty_if_rebuilding() }}",
        indexes=[{'columns': ['signal_id', 'hour_utc'], 'unique': true}] if target.type == 'postgres' else [],
    )
}}
-- Readings per signal and UTC hour. An incremental run recomputes only the hours that
-- the new loads' readings fall in, from all readings of those hours.
{%- set batch = measurement_batch() %}

with
{%- if batch.mode == 'append' %}

touched_hours as (

    select distinct
        signal_id,
        {{ dbt.date_trunc('hour', 'measured_at') }} as hour_utc
    from {{ ref('measurements') }}
    where {{ measurement_batch_loads(batch, 'load_id') }}

),

readings as (

    select
        measurements.signal_id,
        touched_hours.hour_utc,
        measurements.measured_at,
        measurements.value
    from {{ ref('measurements') }} as measurements
    inner join touched_hours
        on measurements.signal_id = touched_hours.signal_id
        and measurements.measured_at >= touched_hours.hour_utc
        and measurements.measured_at < {{ dbt.dateadd('hour', 1, 'touched_hours.hour_utc') }}

),
{%- else %}

readings as (

    select
        signal_id,
        {{ dbt.date_trunc('hour', 'measured_at') }} as hour_utc,
        measured_at,
        value
    from {{ ref('measurements') }}

),
{%- endif %}

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
