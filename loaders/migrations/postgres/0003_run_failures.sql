-- Failed Dagster runs, one row per failed step (step_key is NULL when the run failed
-- outside any step), written by the run failure sensor so an operator can query them.
CREATE TABLE IF NOT EXISTS raw.run_failures (
    run_id      text        NOT NULL,
    job_name    text        NOT NULL,
    step_key    text,
    error       text        NOT NULL,
    failed_at   timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT current_timestamp
);
CREATE INDEX IF NOT EXISTS run_failures_failed_at_idx ON raw.run_failures (failed_at);
