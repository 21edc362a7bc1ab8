-- The raw layer: typed rows exactly as the files held them, each with its lineage.
-- raw.measurements is list-partitioned by load_id: every file load writes its own
-- partition, so replacing a changed file drops one partition instead of deleting
-- millions of rows, and a failed load rolls back to nothing.
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
    CONSTRAINT load_ledger_reconciles CHECK (status = 'failed' OR rows_read = rows_loaded + rows_rejected)
);
CREATE INDEX IF NOT EXISTS load_ledger_source_file_idx ON raw.load_ledger (source_file, status);

CREATE TABLE IF NOT EXISTS raw.assets (
    asset_id     bigint           NOT NULL,
    latitude     double precision NOT NULL,
    longitude    double precision NOT NULL,
    descri       text             NOT NULL,
    load_id      bigint           NOT NULL,
    source_file  text             NOT NULL,
    line_number  bigint           NOT NULL,
    loaded_at    timestamptz      NOT NULL
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
    ts                 timestamp        NOT NULL,
    signal_id          bigint           NOT NULL,
    measurement_value  double precision NOT NULL,
    load_id            bigint           NOT NULL,
    source_file        text             NOT NULL,
    line_number        bigint           NOT NULL,
    loaded_at          timestamptz      NOT NULL
) PARTITION BY LIST (load_id);

CREATE TABLE IF NOT EXISTS raw.rejected_rows (
    load_id      bigint      NOT NULL,
    source_file  text        NOT NULL,
    file_kind    text        NOT NULL,
    line_number  bigint      NOT NULL,
    raw_line     text,
    reason       text        NOT NULL,
    loaded_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_rows_load_id_idx ON raw.rejected_rows (load_id);
