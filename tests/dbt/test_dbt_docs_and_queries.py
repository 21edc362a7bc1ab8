"""The analysts' side: the README's example queries answer on both warehouses, and the
documentation builds offline."""

from __future__ import annotations

import json
import re

from dbt_harness import DBT_PROJECT_DIR, BuiltWarehouse

README = DBT_PROJECT_DIR / "README.md"


def readme_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_hourly_average_query_answers(sample_warehouse: BuiltWarehouse) -> None:
    hourly, _ = readme_queries()
    # "last week" seen from Wednesday 2022-01-26: Monday 17 to Sunday 23 January
    rows = sample_warehouse.warehouse.rows(hourly.replace("current_date", "date '2022-01-26'"))
    assert len(rows) == 7 * 24
    assert str(rows[0][0]) == "2022-01-17 00:00:00"
    assert all(80 <= row[1] <= 140 for row in rows)


def test_readme_silent_signals_query_answers(sample_warehouse: BuiltWarehouse) -> None:
    _, silent = readme_queries()
    rows = sample_warehouse.warehouse.rows(silent.replace("current_date", "date '2022-02-07'"))
    names = [row[0] for row in rows]
    # data/README.md: LAUFLA220SOAZZAU_L12 is silent from 02:25:50 to 05:59:20 on 2022-02-06
    assert "LAUFLA220SOAZZAU_L12" in names
    assert all(row[3] > 1 for row in rows)


def test_docs_generate_works_offline(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    warehouse.dbt("docs", "generate")
    target = warehouse.workdir / "dbt-target"
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    measurements = catalog["nodes"]["model.gridwarehouse.measurements"]
    assert set(measurements["columns"]) >= {"signal_id", "measured_at", "value"}
    manifest = json.loads((target / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model":
            assert node["description"], node["name"]
            undocumented = [
                name for name, column in node["columns"].items() if not column["description"]
            ]
            assert not undocumented, (node["name"], undocumented)


def test_source_freshness_passes_right_after_a_load(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    warehouse.dbt("source", "freshness")
    results = json.loads((warehouse.workdir / "dbt-target" / "sources.json").read_text())["results"]
    assert {result["unique_id"].split(".")[-1] for result in results} == {
        "assets",
        "signals",
        "measurements",
        "rejected_rows",
        "load_ledger",
    }
    assert {result["status"] for result in results} == {"pass"}
