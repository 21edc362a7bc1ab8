-- The inputs this run builds the measurement marts from, fixed once at the start of the
-- run so that every mart of the family sees the same loads and signals even if a load
-- lands meanwhile: the measurement loads in raw and the known signal ids.
select
    cast('measurements_load' as {{ dbt.type_string() }}) as input_kind,
    cast(load_id as bigint) as input_id
from {{ source('raw', 'load_ledger') }}
where file_kind = 'measurements'
  and status = 'loaded'

union all

select
    cast('signal' as {{ dbt.type_string() }}) as input_kind,
    signal_id as input_id
from {{ ref('stg_raw__signals') }}
