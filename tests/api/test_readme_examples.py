"""The README's curl examples answer 200, on a warehouse of the same shape as data/."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import Served

README = Path(__file__).resolve().parents[2] / "README.md"
README_SIGNAL = "432284"


def curl_examples() -> list[tuple[str, bool]]:
    """Each curl's path and query, and whether it sends a bearer token."""
    section = README.read_text(encoding="utf-8").split("## The read API", 1)[1].split("\n## ", 1)[0]
    examples = []
    for line in section.splitlines():
        if line.startswith("curl "):
            url = re.search(r'\$API(/[^" ]*)', line)
            assert url, line
            examples.append((url.group(1), "Authorization: Bearer" in line))
    return examples


def test_every_curl_example_answers(duckdb_served: Served) -> None:
    signal_id = duckdb_served.sql("SELECT min(signal_id) FROM analytics.signals")[0][0]
    load_id = duckdb_served.sql("SELECT max(load_id) FROM raw.load_ledger WHERE rows_rejected > 0")[0][0]
    examples = curl_examples()

    statuses = {}
    with duckdb_served.client() as open_client, duckdb_served.client(api_tokens="readme-token") as guarded:
        for path, with_token in examples:
            path = path.replace(README_SIGNAL, str(signal_id)).replace("/loads/4/", f"/loads/{load_id}/")
            if with_token:
                statuses[path] = guarded.get(path, headers={"Authorization": "Bearer readme-token"}).status_code
            else:
                statuses[path] = open_client.get(path).status_code

    assert len(examples) >= 8
    assert set(statuses.values()) == {200}, statuses
