-- Every raw reading, renamed and with its time in UTC; one row per raw row, so that a
-- filter on load_id reaches raw.measurements (and its partitions on PostgreSQL).
-- Duplicates are resolved in the marts, which process one batch of loads at a time.
-- The conversion, daylight-saving time included (the repeated autumn hour read from the
-- dump's order, the skipped spring hour flagged), is macros/local_time.sql.
{{ readings_in_utc(source('raw', 'measurements')) }}
