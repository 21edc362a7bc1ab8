-- Each signal with the range of values that is physically plausible for it: the range of
-- its unit at its nominal voltage level when the seed has one, else the unit's range.
with signals as (

    select * from {{ ref('stg_raw__signals') }}

),

ranges as (

    select * from {{ ref('unit_plausible_ranges') }}

)

select
    signals.signal_id,
    cast(signals.signal_gid as {{ dbt.type_string() }}) as signal_gid,
    signals.asset_id,
    cast(signals.signal_name as {{ dbt.type_string() }}) as signal_name,
    cast(signals.unit as {{ dbt.type_string() }}) as unit,
    signals.nominal_voltage_kv,
    cast(coalesce(at_level.min_value, for_unit.min_value) as {{ type_double() }}) as plausible_min,
    cast(coalesce(at_level.max_value, for_unit.max_value) as {{ type_double() }}) as plausible_max
from signals
left join ranges as at_level
    on at_level.unit = signals.unit
    and at_level.nominal_voltage_kv = signals.nominal_voltage_kv
left join ranges as for_unit
    on for_unit.unit = signals.unit
    and for_unit.nominal_voltage_kv is null
