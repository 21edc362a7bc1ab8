# syntax=docker/dockerfile:1
# One image for every gridwarehouse container: the code location (which runs the loaders
# and dbt), the Dagster webserver and daemon, the read API, and one-shot commands
# (migrate, reseed).
# Dependencies come from uv.lock exactly; nothing is installed at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    DAGSTER_COMPUTE_LOGS_DIR=/opt/dagster/compute_logs

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /opt/gridwarehouse

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY kernel ./kernel
COPY warehouse ./warehouse
COPY loaders ./loaders
COPY sample_data ./sample_data
COPY orchestration ./orchestration
COPY api ./api
COPY dbt_project ./dbt_project
RUN uv sync --frozen --no-dev

# The dbt manifest is built into the image (no connection needed to parse), so the
# code location starts without parsing; dbt writes target/ and logs/ at run time.
RUN cd dbt_project && dbt parse --quiet --target postgres --profiles-dir .

COPY deploy/dagster/dagster.yaml deploy/dagster/workspace.yaml $DAGSTER_HOME/

# The processes run as an unprivileged user that may write only: Dagster's home and run
# logs, dbt's target/ and logs/, and .state/ (where `warehouse run`/`reseed` keep the
# instance of the runs they execute in their own process).
RUN useradd --system --uid 10001 --user-group --home-dir /opt/gridwarehouse warehouse \
    && mkdir -p "$DAGSTER_COMPUTE_LOGS_DIR" /opt/gridwarehouse/dbt_project/logs /opt/gridwarehouse/.state \
    && chown -R warehouse:warehouse "$DAGSTER_HOME" "$DAGSTER_COMPUTE_LOGS_DIR" /opt/gridwarehouse/.state \
       /opt/gridwarehouse/dbt_project/target /opt/gridwarehouse/dbt_project/logs
USER warehouse

CMD ["warehouse", "--help"]
