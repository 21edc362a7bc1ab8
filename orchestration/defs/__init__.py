"""The code location's definitions, one folder per concern (ingest, transform, automation, alerts)
and the few modules they share: table metadata, warehouse access (lock, retries) and dead runs."""
