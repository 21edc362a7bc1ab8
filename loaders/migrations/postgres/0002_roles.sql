-- Least-privilege roles, one per kind of work, so that an analyst's session cannot
-- change data and the loader cannot touch the marts:
--   warehouse_loader       writes raw (owns its tables: a load attaches a partition)
--   warehouse_transformer  reads raw; owns staging and analytics, which dbt builds
--   warehouse_analyst      reads analytics, nothing else
-- They are NOLOGIN groups. People and services log in as users that are members of one
-- of them (deploy/postgres-init/ creates the deployment's users, passwords from the
-- environment). Such a user should run as its group (ALTER ROLE <user> SET role = ...)
-- so the objects it creates belong to the group and the default privileges below apply.
-- Needs a superuser (or CREATEROLE and ownership of the database): run it as the
-- warehouse's admin, e.g. `warehouse migrate`; the loader then finds nothing to apply.
DO $$
DECLARE
    group_role text;
BEGIN
    FOREACH group_role IN ARRAY ARRAY['warehouse_loader', 'warehouse_transformer', 'warehouse_analyst'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = group_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', group_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- roles are per server: another database's migration made it meanwhile
            END;
        END IF;
    END LOOP;
END
$$;

-- Only the three groups may connect; only dbt may create temporary tables (incremental models).
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO warehouse_loader, warehouse_transformer, warehouse_analyst',
                   current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO warehouse_transformer', current_database());
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- raw: the loader's. It owns every table (ATTACH PARTITION and DROP of a replaced load's
-- partition need ownership) and may create tables (one partition per load). The
-- migrations ledger stays with the admin: the loader reads it, never writes it.
GRANT USAGE, CREATE ON SCHEMA raw TO warehouse_loader;
GRANT USAGE ON SCHEMA raw TO warehouse_transformer;
DO $$
DECLARE
    relation record;
BEGIN
    FOR relation IN
        SELECT c.oid::regclass AS name, c.relkind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'raw' AND c.relkind IN ('r', 'p', 'S') AND c.relname <> 'schema_migrations'
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO warehouse_loader',
                       CASE relation.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, relation.name);
    END LOOP;
END
$$;
GRANT SELECT ON raw.schema_migrations TO warehouse_loader, warehouse_transformer;
GRANT SELECT ON ALL TABLES IN SCHEMA raw TO warehouse_transformer;
-- Tables later migrations add (run by this same admin) and partitions the loader creates.
ALTER DEFAULT PRIVILEGES IN SCHEMA raw
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO warehouse_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT ON TABLES TO warehouse_transformer;
ALTER DEFAULT PRIVILEGES FOR ROLE warehouse_loader IN SCHEMA raw GRANT SELECT ON TABLES TO warehouse_transformer;

-- staging and analytics: dbt's, so the transformer owns them and everything in them.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS analytics;
ALTER SCHEMA staging OWNER TO warehouse_transformer;
ALTER SCHEMA analytics OWNER TO warehouse_transformer;
DO $$
DECLARE
    relation record;
BEGIN
    FOR relation IN
        SELECT c.oid::regclass AS name, c.relkind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('staging', 'analytics') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO warehouse_transformer',
                       CASE relation.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                             WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                       relation.name);
    END LOOP;
END
$$;

-- Analysts read the marts, and every table dbt builds there later, without a grant run.
GRANT USAGE ON SCHEMA analytics TO warehouse_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO warehouse_analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE warehouse_transformer IN SCHEMA analytics
    GRANT SELECT ON TABLES TO warehouse_analyst;
