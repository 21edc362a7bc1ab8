-- Failed runs, one row per failed step (step_key is NULL when the run failed outside any
-- step), wherever the run ran: `warehouse run`, the UI, a schedule or a sensor.
-- Written with the loader's login (the process that runs Dagster), read by operators.
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.run_failures (
    run_id      text        NOT NULL,
    job_name    text        NOT NULL,
    step_key    text,
    error       text        NOT NULL,
    failed_at   timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT current_timestamp
);
CREATE INDEX IF NOT EXISTS run_failures_failed_at_idx ON ops.run_failures (failed_at);
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'warehouse_loader') THEN
        EXECUTE 'GRANT USAGE ON SCHEMA ops TO warehouse_loader, warehouse_transformer, warehouse_analyst';
        EXECUTE 'GRANT SELECT, INSERT ON ops.run_failures TO warehouse_loader';
        EXECUTE 'GRANT SELECT ON ops.run_failures TO warehouse_transformer, warehouse_analyst';
        EXECUTE 'GRANT SELECT ON ops.schema_migrations TO warehouse_loader, warehouse_transformer';
    END IF;
END
$$;
