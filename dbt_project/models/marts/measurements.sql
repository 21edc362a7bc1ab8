{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['signal_id', 'measured_at'],
        on_schema_change='fail',
        pre_hook="{{ empty_if_rebuilding(guard_reprocessing=true) }}",
        indexes=[
            {'columns': ['signal_id', 'measured_at'], 'unique': true},
            {'columns': ['load_id']},
        ] if target.type == 'postgres' else [],
    )
}}
-- One row per real reading: (signal, UTC time) is unique, signals unknown to signal.json
-- are left out (see orphan_measurements). The duplicate rule: raw rows with the same
-- signal and time collapse into one, the row from the most recent load winning, then the
-- later line within the file; exact duplicates collapse the same way. duplicates_dropped
-- counts the raw rows each reading won over.
{%- set batch = measurement_batch(guard_reprocessing=true) %}

with known_signals as (

    select input_id as signal_id
    from {{ ref('measurement_inputs') }}
    where input_kind = 'signal'

),

readings as (

    select
        signal_id,
        measured_at,
        value,
        load_id,
        line_number
    from {{ ref('stg_raw__measurements') }}
    where {{ measurement_batch_loads(batch, 'load_id') }}
      and signal_id in (select signal_id from known_signals)

),

ranked as (

    select
        *,
        row_number() over (
            partition by signal_id, measured_at
            order by load_id desc, line_number desc
        ) as precedence,
        count(*) over (partition by signal_id, measured_at) as raw_rows
    from readings

)

select
    ranked.signal_id,
    ranked.measured_at,
    ranked.value,
    ranked.load_id,
    cast(
        ranked.raw_rows - 1
        {%- if batch.mode == 'append' %}
        -- the reading this one replaces, and the rows that one had won over
        + coalesce(earlier.duplicates_dropped + 1, 0)
        {%- endif %}
        as bigint
    ) as duplicates_dropped
from ranked
{%- if batch.mode == 'append' %}
left join {{ this }} as earlier
    on earlier.signal_id = ranked.signal_id
    and earlier.measured_at = ranked.measured_at
{%- endif %}
where ranked.precedence = 1
