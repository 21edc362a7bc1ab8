-- depends_on: {{ ref('measurements') }}
-- depends_on: {{ ref('measurements_hourly') }}
-- depends_on: {{ ref('orphan_measurements') }}
-- Built after the incremental measurement marts: the inputs they now reflect. The next
-- run compares measurement_inputs with this table to process only what is new
-- (see macros/measurement_batch.sql).
select input_kind, input_id
from {{ ref('measurement_inputs') }}
