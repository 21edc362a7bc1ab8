"""The read API: HTTP over the analysts' view of the warehouse, for dashboards and monitors.

`create_app(settings)` (api/app.py) builds the FastAPI application; `warehouse serve`
(api/server.py) runs it under uvicorn. Every read goes through
`kernel.database.connect(settings.warehouse, "reader")`: the reader's login on PostgreSQL,
the analysts' copy of the file on DuckDB, read-only either way. Nothing here writes.

The room imports the kernel and libraries only (docs/architecture.md): no loaders, no
orchestration, no Dagster, no dbt. What the API knows of the warehouse's state it reads
from the warehouse itself (the load ledger and `refresh_state`).
"""
