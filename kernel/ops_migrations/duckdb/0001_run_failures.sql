-- Failed runs, one row per failed step (step_key is NULL when the run failed outside any
-- step), wherever the run ran: `warehouse run`, the UI, a schedule or a sensor.
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.run_failures (
    run_id      text        NOT NULL,
    job_name    text        NOT NULL,
    step_key    text,
    error       text        NOT NULL,
    failed_at   timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT current_timestamp
);
