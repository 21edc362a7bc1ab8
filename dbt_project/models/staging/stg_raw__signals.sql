-- One row per signal, deduplicated like assets (most recent load, then later line:
-- macros/duplicate_rule.sql).
-- Signal names are SCADA tags `STA SUB VVV BAY QUANTITY`: characters 7-9 hold the
-- nominal voltage level of the bay in kV (BEZOBF110BIRMENU_L12 -> 110).
with source as (

    select * from {{ source('raw', 'signals') }}

),

ranked as (

    select
        signal_id,
        lower(trim(signal_gid)) as signal_gid,
        trim(signal_name) as signal_name,
        asset_id,
        trim(unit) as unit,
        load_id,
        source_file,
        line_number,
        {{ duplicate_rule(['signal_id']) }}
    from source

),

named as (

    select
        *,
        substring(signal_name, 7, 3) as voltage_level_text
    from ranked
    where duplicate_rank = 1

)

select
    cast(signal_id as bigint) as signal_id,
    cast(signal_gid as {{ dbt.type_string() }}) as signal_gid,
    cast(signal_name as {{ dbt.type_string() }}) as signal_name,
    cast(asset_id as bigint) as asset_id,
    cast(unit as {{ dbt.type_string() }}) as unit,
    case
        when length(voltage_level_text) = 3 and translate(voltage_level_text, '0123456789', '') = ''
            then cast(voltage_level_text as integer)
    end as nominal_voltage_kv,
    cast(duplicates_dropped as bigint) as duplicates_dropped,
    cast(load_id as bigint) as load_id,
    source_file,
    cast(line_number as bigint) as line_number
from named
