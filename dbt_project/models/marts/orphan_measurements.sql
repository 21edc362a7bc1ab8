{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['load_id', 'signal_id'],
        on_schema_change='fail',
        pre_hook="{{ empty_if_rebuilding() }}",
    )
}}
-- Raw readings whose signal id no signal in signal.json has, counted per file and signal
-- id: they are kept out of analytics.measurements but do not vanish without a trace.
{%- set batch = measurement_batch() %}

with known_signals as (

    select input_id as signal_id
    from {{ ref('measurement_inputs') }}
    where input_kind = 'signal'

)

select
    load_id,
    cast(source_file as text) as source_file,
    signal_id,
    cast(count(*) as bigint) as n_readings,
    min(measured_at) as first_measured_at,
    max(measured_at) as last_measured_at
from {{ ref('stg_raw__measurements') }}
where {{ measurement_batch_loads(batch, 'load_id') }}
  and signal_id not in (select signal_id from known_signals)
group by load_id, source_file, signal_id
