"""Dagster: wires the loaders and the dbt project into assets, checks, jobs, schedules and sensors."""
