-- The raw layer in Spark's metastore: external Parquet tables over the lake's folders,
-- which the loaders write without a JVM (loaders/sinks/spark.py). Idempotent, applied
-- whole by loaders.sinks.spark.register_raw_tables; {raw_dir} is the lake's raw folder.
-- Spark lists each table's folders when it reads (spark.sql.hive.manageFilesourcePartitions
-- is off), so a load's partition needs no registration of its own: its commit is the
-- ledger file, and the folders whose names start with '.' or '_' are never read.
CREATE DATABASE IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.assets (
    asset_id     BIGINT,
    latitude     DOUBLE,
    longitude    DOUBLE,
    descri       STRING,
    source_file  STRING,
    line_number  BIGINT,
    loaded_at    TIMESTAMP,
    load_id      BIGINT
) USING parquet PARTITIONED BY (load_id) LOCATION '{raw_dir}/assets'
COMMENT 'Substations from assets.json, typed, one row per record, with load lineage.';

CREATE TABLE IF NOT EXISTS raw.signals (
    signal_gid   STRING,
    signal_id    BIGINT,
    signal_name  STRING,
    asset_id     BIGINT,
    unit         STRING,
    source_file  STRING,
    line_number  BIGINT,
    loaded_at    TIMESTAMP,
    load_id      BIGINT
) USING parquet PARTITIONED BY (load_id) LOCATION '{raw_dir}/signals'
COMMENT 'Measurement channels from signal.json, typed, with load lineage.';

CREATE TABLE IF NOT EXISTS raw.measurements (
    ts                 TIMESTAMP_NTZ,
    signal_id          BIGINT,
    measurement_value  DOUBLE,
    source_file        STRING,
    line_number        BIGINT,
    loaded_at          TIMESTAMP,
    load_id            BIGINT
) USING parquet PARTITIONED BY (load_id) LOCATION '{raw_dir}/measurements'
COMMENT 'Readings from every measurements*.csv dump, typed, with load lineage.';

CREATE TABLE IF NOT EXISTS raw.rejected_rows (
    source_file  STRING,
    file_kind    STRING,
    line_number  BIGINT,
    raw_line     STRING,
    reason       STRING,
    loaded_at    TIMESTAMP,
    load_id      BIGINT
) USING parquet PARTITIONED BY (load_id) LOCATION '{raw_dir}/rejected_rows'
COMMENT 'Every line that could not be typed, with its reason.';

CREATE TABLE IF NOT EXISTS raw.load_ledger_events (
    load_id        BIGINT,
    source_file    STRING,
    file_kind      STRING,
    size_bytes     BIGINT,
    sha256         STRING,
    rows_read      BIGINT,
    rows_loaded    BIGINT,
    rows_rejected  BIGINT,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    status         STRING,
    error          STRING,
    committed_by   BIGINT
) USING parquet LOCATION '{raw_dir}/load_ledger'
COMMENT 'The load ledger as written: append-only events, one file per commit.';

-- The ledger as on the SQL warehouses: one row per load, its latest event.
CREATE OR REPLACE VIEW raw.load_ledger AS
SELECT load_id, source_file, file_kind, size_bytes, sha256, rows_read, rows_loaded, rows_rejected,
       started_at, finished_at, status, error
FROM (
    SELECT *, row_number() OVER (PARTITION BY load_id ORDER BY committed_by DESC) AS event_rank
    FROM raw.load_ledger_events
)
WHERE event_rank = 1;
