"""The kernel: settings, logging, paths and database access, for every other package.

It sits at the bottom of the project and imports nothing above it: no loaders, no dbt,
no Dagster (tests/test_architecture.py enforces it).
"""
