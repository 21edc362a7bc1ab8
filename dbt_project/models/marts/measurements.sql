{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_batch_rows('signal_id', 'measured_at') }}",
        indexes=[
            {'columns': ['signal_id', 'measured_at'], 'unique': true},
            {'columns': ['load_id']},
        ] if target.type == 'postgres' else [],
    )
}}
-- One row per real reading: (signal, UTC time) is unique, signals unknown to signal.json
-- are left out (see orphan_measurements). The duplicate rule (macros/duplicate_rule.sql):
-- raw rows with the same signal and time collapse into one, the row from the most recent
-- load winning, then the later line within the file; exact duplicates collapse the same
-- way. duplicates_dropped counts the raw rows each reading won over. local_time_flag says
-- how the reading's local wall time became its UTC instant where daylight-saving time
-- made that less than certain (macros/local_time.sql).
-- Incremental: the pre-hook deletes the batch's (signal, day) pairs and this query
-- recomputes them from every current load with readings on them (macros/refresh_batch.sql).
-- The ledger decides which loads are current and which the refresh batch holds
-- (read by the run hooks, macros/refresh_batch.sql):
-- depends_on: {{ source('raw', 'load_ledger') }}
{%- set batch = refresh_batch() %}

with readings as (

    select
        staged.signal_id,
        staged.measured_at,
        staged.value,
        staged.load_id,
        staged.line_number,
        staged.local_time_flag
    from {{ ref('stg_raw__measurements') }} as staged
    {%- if batch.mode == 'incremental' %}
    {{ join_batch_pairs('staged.signal_id', 'staged.measured_at') }}
    {%- endif %}
    where staged.signal_id in (select signal_id from {{ ref('signals') }})
    {%- if batch.mode == 'incremental' %}
      and {{ in_list('staged.load_id', batch.sources) }}
    {%- endif %}

),

ranked as (

    select
        *,
        {{ duplicate_rule(['signal_id', 'measured_at']) }}
    from readings

)

select
    signal_id,
    measured_at,
    value,
    load_id,
    cast(duplicates_dropped as bigint) as duplicates_dropped,
    local_time_flag
from ranked
where duplicate_rank = 1
