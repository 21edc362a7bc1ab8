select
    asset_id,
    cast(asset_name as text) as asset_name,
    latitude,
    longitude
from {{ ref('stg_raw__assets') }}
