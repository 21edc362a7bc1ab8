-- refresh_state: the incremental marts' bookkeeping (dbt_project/macros/refresh_batch.sql),
-- in a schema of its own so that it stays out of the graph analysts read. dbt writes it
-- and creates it itself where it may; with separate logins the transformer may not
-- create schemas, so it is made here and handed to the transformer when that role exists.
CREATE SCHEMA IF NOT EXISTS refresh_state;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'warehouse_transformer') THEN
        EXECUTE 'ALTER SCHEMA refresh_state OWNER TO warehouse_transformer';
    END IF;
END
$$;
