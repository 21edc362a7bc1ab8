#!/usr/bin/env bash
# Creates the warehouse's databases and one login user per group role, passwords from
# the environment. The postgres image runs it once, when the warehouse-db volume is first
# initialised; it is idempotent, so it can also be run by hand against a running server:
#   docker compose exec warehouse-db bash /docker-entrypoint-initdb.d/10-warehouse-users.sh
# The group roles and their privileges come from the raw-schema migrations (`warehouse
# migrate`); the groups are created here too because the users must join them now.
# Each user runs as its group (SET role), so the tables it creates belong to the group
# and the migrations' default privileges apply to them.
set -euo pipefail

: "${WAREHOUSE_LOADER_PASSWORD:?WAREHOUSE_LOADER_PASSWORD is not set}"
: "${WAREHOUSE_TRANSFORMER_PASSWORD:?WAREHOUSE_TRANSFORMER_PASSWORD is not set}"
: "${WAREHOUSE_ANALYST_PASSWORD:?WAREHOUSE_ANALYST_PASSWORD is not set}"

databases="${WAREHOUSE_DATABASES:-gridwarehouse_prod gridwarehouse_dev}"
admin_psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet
            --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}")

for database in $databases; do
  "${admin_psql[@]}" -v database="$database" <<'SQL'
SELECT format('CREATE DATABASE %I', :'database')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
SQL
done

# user name, password, group role, whether the session runs as the group
while read -r user password group run_as_group; do
  "${admin_psql[@]}" -v user="$user" -v password="$password" -v group="$group" -v run_as_group="$run_as_group" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'group')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'group') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD :'password';
GRANT :"group" TO :"user";
SELECT format('ALTER ROLE %I SET role = %L', :'user', :'group') WHERE :'run_as_group' = 'yes' \gexec
SQL
done <<USERS
${WAREHOUSE_LOADER_USER:-loader} ${WAREHOUSE_LOADER_PASSWORD} warehouse_loader yes
${WAREHOUSE_TRANSFORMER_USER:-transformer} ${WAREHOUSE_TRANSFORMER_PASSWORD} warehouse_transformer yes
${WAREHOUSE_ANALYST_USER:-analyst} ${WAREHOUSE_ANALYST_PASSWORD} warehouse_analyst no
USERS
