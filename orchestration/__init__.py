"""Dagster: wires the loaders and dbt into assets, checks, jobs, schedules and sensors."""

from kernel.logging_config import add_run_id_source


def _dagster_run_id() -> str | None:
    # Only when Dagster is already loaded (a run worker): never import it for a CLI line.
    import sys

    if "dagster" not in sys.modules:
        return None
    try:
        from dagster import OpExecutionContext

        return OpExecutionContext.get().run_id
    except Exception:  # outside a step there is no current context
        return None


add_run_id_source(_dagster_run_id)
