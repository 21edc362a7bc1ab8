# Two commands set everything up on a fresh machine with only Python 3.11+:
#   make run   - build the whole warehouse from data/ on the embedded default (DuckDB)
#   make test  - the whole test suite, PostgreSQL included (a throwaway server is started)
PYTHON ?= python3
VENV   := .venv
UV     := $(shell command -v uv 2>/dev/null || echo $(VENV)/bin/uv)
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test load ui bench bench-refresh install install-spark clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/bin/uv: | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet "uv>=0.5"

# The stamps are newer than uv.lock once the environment matches it. `make run` needs the
# light default only; `make test` adds the `spark` extra (pyspark, dbt-spark: ~630 MB).
# `--inexact` keeps an installed extra when the light sync runs after the full one.
$(VENV)/.synced: uv.lock pyproject.toml | $(VENV)/bin/python $(if $(filter $(VENV)/bin/uv,$(UV)),$(VENV)/bin/uv)
	$(UV) sync --frozen --inexact --python $(VENV)/bin/python
	touch $@

$(VENV)/.synced-spark: uv.lock pyproject.toml | $(VENV)/bin/python $(if $(filter $(VENV)/bin/uv,$(UV)),$(VENV)/bin/uv)
	$(UV) sync --frozen --extra spark --python $(VENV)/bin/python
	touch $@ $(VENV)/.synced

install: $(VENV)/.synced

install-spark: $(VENV)/.synced-spark

run: install
	$(VENV)/bin/warehouse run

load: install
	$(VENV)/bin/warehouse load

ui: install
	$(VENV)/bin/warehouse ui

# Three pytest-xdist workers: many tests wait on processes they start, so one more worker
# than cores pays. The tests sharing a session or module build run on one worker (tests/
# conftest.py), which builds it once. PYTEST_ARGS adds options; PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 3
test: install-spark
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python benchmarks/load_benchmark.py --rows 1000000

# Full build, 1% refresh and no-op of `warehouse run` on both targets; BENCH_ARGS adds
# options, e.g. make bench-refresh BENCH_ARGS="--targets duckdb --compare-rows 10000000"
bench-refresh: install
	$(VENV)/bin/python benchmarks/refresh_benchmark.py --rows 1000000 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .state
