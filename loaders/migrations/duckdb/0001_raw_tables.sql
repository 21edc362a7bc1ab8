-- The raw layer: typed rows exactly as the files held them, each with its lineage.
-- Same tables and columns as on PostgreSQL; DuckDB has no partitions, and its
-- column store deletes one load's rows by scanning load_id cheaply.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE SEQUENCE IF NOT EXISTS raw.load_id_seq;

CREATE TABLE IF NOT EXISTS raw.load_ledger (
    load_id        bigint      PRIMARY KEY,
    source_file    text        NOT NULL,
    file_kind      text        NOT NULL CHECK (file_kind IN ('assets', 'signals', 'measurements')),
    size_bytes     bigint      NOT NULL,
    sha256         text        NOT NULL,
    rows_read      bigint      NOT NULL DEFAULT 0,
    rows_loaded    bigint      NOT NULL DEFAULT 0,
    rows_rejected  bigint      NOT NULL DEFAULT 0,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    status         text        NOT NULL CHECK (status IN ('loaded', 'replaced', 'failed')),
    error          text,
    CHECK (status = 'failed' OR rows_read = rows_loaded + rows_rejected)
);

CREATE TABLE IF NOT EXISTS raw.assets (
    asset_id     bigint      NOT NULL,
    latitude     double      NOT NULL,
    longitude    double      NOT NULL,
    descri       text        NOT NULL,
    load_id      bigint      NOT NULL,
    source_file  text        NOT NULL,
    line_number  bigint      NOT NULL,
    loaded_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.signals (
    signal_gid   text        NOT NULL,
    signal_id    bigint      NOT NULL,
    signal_name  text        NOT NULL,
    asset_id     bigint      NOT NULL,
    unit         text        NOT NULL,
    load_id      bigint      NOT NULL,
    source_file  text        NOT NULL,
    line_number  bigint      NOT NULL,
    loaded_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.measurements (
    ts                 timestamp   NOT NULL,
    signal_id          bigint      NOT NULL,
    measurement_value  double      NOT NULL,
    load_id            bigint      NOT NULL,
    source_file        text        NOT NULL,
    line_number        bigint      NOT NULL,
    loaded_at          timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.rejected_rows (
    load_id      bigint      NOT NULL,
    source_file  text        NOT NULL,
    file_kind    text        NOT NULL,
    line_number  bigint      NOT NULL,
    raw_line     text,
    reason       text        NOT NULL,
    loaded_at    timestamptz NOT NULL
);
