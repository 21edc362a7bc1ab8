-- Every raw reading, renamed and with its time in UTC; one row per raw row, so that a
-- filter on load_id reaches raw.measurements (and its partitions on PostgreSQL).
-- Duplicates are resolved in the marts, which process one batch of loads at a time.
select
    cast(signal_id as bigint) as signal_id,
    cast({{ to_utc('ts') }} as timestamp) as measured_at,
    cast(ts as timestamp) as measured_at_local,
    cast(measurement_value as double precision) as value,
    cast(load_id as bigint) as load_id,
    source_file,
    cast(line_number as bigint) as line_number,
    loaded_at
from {{ source('raw', 'measurements') }}
