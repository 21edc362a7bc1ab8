select
    asset_id,
    cast(asset_name as {{ dbt.type_string() }}) as asset_name,
    latitude,
    longitude
from {{ ref('stg_raw__assets') }}
