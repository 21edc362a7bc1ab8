-- Analysts (and the read API, which logs in as one: `warehouse serve`) may see how the
-- data got in: the load ledger, the lines each load rejected and why, and which loads
-- the marts reflect (refresh_state, what /ready reports). Nothing else of raw: the typed
-- rows stay behind the marts. Still read-only: no write on either schema.
GRANT USAGE ON SCHEMA raw TO warehouse_analyst;
GRANT SELECT ON raw.load_ledger, raw.rejected_rows TO warehouse_analyst;

-- refresh_state's tables are made (and remade) by dbt's run hooks, which dbt's grants do
-- not cover: as the transformer with split logins, or as the one login that also runs
-- these migrations; migration 0004 made the schema.
GRANT USAGE ON SCHEMA refresh_state TO warehouse_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA refresh_state TO warehouse_analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE warehouse_transformer IN SCHEMA refresh_state
    GRANT SELECT ON TABLES TO warehouse_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA refresh_state GRANT SELECT ON TABLES TO warehouse_analyst;
