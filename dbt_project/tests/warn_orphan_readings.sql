-- Readings of signal ids that signal.json does not know. A handful is the normal state
-- of an operator's dump: warn, with the number of such readings as the count. Many more
-- than var('max_orphan_readings') means the signal catalogue is stale: fail.
{{
    config(
        severity='error',
        fail_calc='coalesce(sum(n_readings), 0)',
        warn_if='>0',
        error_if='>' ~ var('max_orphan_readings'),
    )
}}

select load_id, source_file, signal_id, n_readings
from {{ ref('orphan_measurements') }}
