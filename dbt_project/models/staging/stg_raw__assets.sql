-- One row per asset. raw.assets keeps every row of every current assets file; when an
-- asset id appears more than once, the row from the most recent load wins, then the
-- later line of the file: the same rule as for measurements (macros/duplicate_rule.sql).
with source as (

    select * from {{ source('raw', 'assets') }}

),

ranked as (

    select
        asset_id,
        trim(descri) as asset_name,
        latitude,
        longitude,
        load_id,
        source_file,
        line_number,
        {{ duplicate_rule(['asset_id']) }}
    from source

)

select
    cast(asset_id as bigint) as asset_id,
    cast(asset_name as {{ dbt.type_string() }}) as asset_name,
    cast(latitude as {{ type_double() }}) as latitude,
    cast(longitude as {{ type_double() }}) as longitude,
    cast(duplicates_dropped as bigint) as duplicates_dropped,
    cast(load_id as bigint) as load_id,
    source_file,
    cast(line_number as bigint) as line_number
from ranked
where duplicate_rank = 1
