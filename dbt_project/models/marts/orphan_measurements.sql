{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_orphan_batch_rows() }}",
    )
}}
-- Raw readings whose signal id no signal in signal.json has, counted per file and signal
-- id: they are kept out of analytics.measurements but do not vanish without a trace.
-- Incremental: the rows of added and removed loads, and of signals whose membership in
-- the catalogue changed, are deleted and recomputed.
{%- set batch = refresh_batch() %}

select
    load_id,
    cast(source_file as {{ dbt.type_string() }}) as source_file,
    signal_id,
    cast(count(*) as bigint) as n_readings,
    min(measured_at) as first_measured_at,
    max(measured_at) as last_measured_at
from {{ ref('stg_raw__measurements') }}
where signal_id not in (select signal_id from {{ ref('signals') }})
{%- if batch.mode == 'incremental' %}
  and {{ in_list('load_id', batch.added + batch.sources) }}
  and ({{ in_list('load_id', batch.added) }} or {{ in_list('signal_id', batch.signals) }})
{%- endif %}
group by load_id, source_file, signal_id
