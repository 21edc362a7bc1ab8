-- Descriptions of the raw tables and their columns, in the database itself: every SQL
-- client shows them, and the Dagster raw assets read them into their column schema
-- (orchestration/defs/table_metadata.py). Same text on PostgreSQL and DuckDB.

COMMENT ON TABLE raw.assets IS 'Substations from assets.json, typed, one row per record of every current load, with load lineage.';
COMMENT ON COLUMN raw.assets.asset_id IS 'AssetID of the record: the substation''s id.';
COMMENT ON COLUMN raw.assets.latitude IS 'Latitude (WGS 84, degrees).';
COMMENT ON COLUMN raw.assets.longitude IS 'Longitude (WGS 84, degrees).';
COMMENT ON COLUMN raw.assets.descri IS 'The asset''s (truncated) description, its name.';
COMMENT ON COLUMN raw.assets.load_id IS 'Id of the load (one source file read once) that the row came from; ids increase with every load. raw.load_ledger has the file, its checksum and counts.';
COMMENT ON COLUMN raw.assets.source_file IS 'Name of the source file the row was read from.';
COMMENT ON COLUMN raw.assets.line_number IS 'Line (CSV, the header is line 1) or record (JSON) number of the row in its source file.';
COMMENT ON COLUMN raw.assets.loaded_at IS 'When the loader wrote the row.';

COMMENT ON TABLE raw.signals IS 'Measurement channels from signal.json, typed, one row per record of every current load, with load lineage.';
COMMENT ON COLUMN raw.signals.signal_gid IS 'SignalGId, the signal''s UUID.';
COMMENT ON COLUMN raw.signals.signal_id IS 'SignalId, the numeric key that measurements use.';
COMMENT ON COLUMN raw.signals.signal_name IS 'SignalName, the SCADA tag.';
COMMENT ON COLUMN raw.signals.asset_id IS 'AssetId of the asset the signal belongs to.';
COMMENT ON COLUMN raw.signals.unit IS 'Unit of the signal''s values.';
COMMENT ON COLUMN raw.signals.load_id IS 'Id of the load (one source file read once) that the row came from; ids increase with every load. raw.load_ledger has the file, its checksum and counts.';
COMMENT ON COLUMN raw.signals.source_file IS 'Name of the source file the row was read from.';
COMMENT ON COLUMN raw.signals.line_number IS 'Line (CSV, the header is line 1) or record (JSON) number of the row in its source file.';
COMMENT ON COLUMN raw.signals.loaded_at IS 'When the loader wrote the row.';

COMMENT ON TABLE raw.measurements IS 'Readings from every measurements*.csv dump that parsed, one row per line of every current load; duplicates and readings of unknown signals included (staging resolves them).';
COMMENT ON COLUMN raw.measurements.ts IS 'Ts, the reading''s time as written, naive, in the source time zone (WAREHOUSE_SOURCE_TIMEZONE).';
COMMENT ON COLUMN raw.measurements.signal_id IS 'SignalId of the reading.';
COMMENT ON COLUMN raw.measurements.measurement_value IS 'MeasurementValue, the decimal comma already read.';
COMMENT ON COLUMN raw.measurements.load_id IS 'Id of the load (one source file read once) that the row came from; ids increase with every load. raw.load_ledger has the file, its checksum and counts.';
COMMENT ON COLUMN raw.measurements.source_file IS 'Name of the source file the row was read from.';
COMMENT ON COLUMN raw.measurements.line_number IS 'Line (CSV, the header is line 1) or record (JSON) number of the row in its source file.';
COMMENT ON COLUMN raw.measurements.loaded_at IS 'When the loader wrote the row.';

COMMENT ON TABLE raw.rejected_rows IS 'Every line of the dumps a loader refused, with its file, line, raw text and reason.';
COMMENT ON COLUMN raw.rejected_rows.load_id IS 'Id of the load that read the line (raw.load_ledger).';
COMMENT ON COLUMN raw.rejected_rows.source_file IS 'Name of the source file the line was read from.';
COMMENT ON COLUMN raw.rejected_rows.file_kind IS 'assets, signals or measurements.';
COMMENT ON COLUMN raw.rejected_rows.line_number IS 'Line (CSV, the header is line 1) or record (JSON) number of the row in its source file.';
COMMENT ON COLUMN raw.rejected_rows.raw_line IS 'The line (or JSON record) as the file held it.';
COMMENT ON COLUMN raw.rejected_rows.reason IS 'Why the loader refused it: the column, the value and what was expected.';
COMMENT ON COLUMN raw.rejected_rows.loaded_at IS 'When the loader read the line.';

COMMENT ON TABLE raw.load_ledger IS 'One row per attempt to load a file: checksum, counts, status, error. status is loaded (the current load of the file), replaced (an older load of a file that changed; its rows are gone from raw) or failed (rolled back, no rows).';
COMMENT ON COLUMN raw.load_ledger.load_id IS 'Id of the load; ids increase with every load.';
COMMENT ON COLUMN raw.load_ledger.source_file IS 'Name of the file in the data folder.';
COMMENT ON COLUMN raw.load_ledger.file_kind IS 'assets, signals or measurements.';
COMMENT ON COLUMN raw.load_ledger.size_bytes IS 'Size of the file when it was read, in bytes.';
COMMENT ON COLUMN raw.load_ledger.sha256 IS 'SHA-256 of the file''s bytes: a file whose checksum equals its current load is not read again.';
COMMENT ON COLUMN raw.load_ledger.rows_read IS 'Data rows read from the file (rows_loaded + rows_rejected).';
COMMENT ON COLUMN raw.load_ledger.rows_loaded IS 'Rows written to the kind''s raw table.';
COMMENT ON COLUMN raw.load_ledger.rows_rejected IS 'Rows written to raw.rejected_rows instead.';
COMMENT ON COLUMN raw.load_ledger.started_at IS 'When the load began.';
COMMENT ON COLUMN raw.load_ledger.finished_at IS 'When the load committed or failed; empty while it runs.';
COMMENT ON COLUMN raw.load_ledger.status IS 'loaded, replaced or failed.';
COMMENT ON COLUMN raw.load_ledger.error IS 'For a failed load: why, naming the file, the line and the value.';
