"""Bad requests get a 4xx JSON body naming the parameter, what was expected and what came."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.paging import MAX_PAGE_ROWS, encode_cursor


def error(client: TestClient, url: str, **params: object) -> tuple[int, dict]:
    response = client.get(url, params=params)
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


@pytest.mark.parametrize(("url", "parameter", "value"), [
    ("/signals/999999999", "signal_id", 999999999),
    ("/signals/999999999/measurements", "signal_id", 999999999),
    ("/signals/999999999/quality", "signal_id", 999999999),
    ("/assets/999999999", "asset_id", 999999999),
    ("/loads/999999999/rejected", "load_id", 999999999),
])
def test_an_unknown_id_is_404_naming_it(client: TestClient, url: str, parameter: str, value: int) -> None:
    status, body = error(client, url)

    assert status == 404
    assert body == {"status": 404, "error": "not_found", "message": f"no {parameter.removesuffix('_id')} with "
                    f"{parameter} {value}", "parameter": parameter, "expected": None, "got": value}


def test_a_date_that_is_not_one_is_422(client: TestClient, signal_id: int) -> None:
    status, body = error(client, f"/signals/{signal_id}/measurements", start="yesterday")

    assert status == 422
    assert (body["parameter"], body["got"]) == ("start", "yesterday")
    assert body["expected"].startswith("an ISO 8601 date or UTC time")


def test_an_end_before_the_start_is_422_naming_end(client: TestClient, signal_id: int) -> None:
    status, body = error(client, f"/signals/{signal_id}/quality", start="2022-01-10", end="2022-01-01")

    assert status == 422
    assert body["message"] == "end: expected a time after start (2022-01-10T00:00:00Z), got '2022-01-01'"


def test_an_empty_range_is_422(client: TestClient, signal_id: int) -> None:
    status, body = error(client, f"/signals/{signal_id}/measurements", start="2022-01-01", end="2022-01-01")

    assert (status, body["parameter"]) == (422, "end")


def test_an_unknown_resolution_is_422_listing_the_known(client: TestClient, signal_id: int) -> None:
    status, body = error(client, f"/signals/{signal_id}/measurements", resolution="weekly")

    assert status == 422
    assert (body["parameter"], body["got"]) == ("resolution", "weekly")
    assert body["expected"] == "'raw', '15min', 'hourly' or 'daily'"


def test_a_page_larger_than_the_limit_is_422(client: TestClient, signal_id: int) -> None:
    status, body = error(client, f"/signals/{signal_id}/measurements", limit=MAX_PAGE_ROWS + 1)

    assert status == 422
    assert (body["parameter"], body["got"]) == ("limit", MAX_PAGE_ROWS + 1)
    assert body["expected"].startswith(f"at most {MAX_PAGE_ROWS} rows per page")


@pytest.mark.parametrize("limit", [0, -5, "ten"])
def test_a_limit_that_is_no_positive_number_is_422(client: TestClient, limit: object) -> None:
    status, body = error(client, "/loads", limit=limit)

    assert (status, body["parameter"], body["got"]) == (422, "limit", str(limit))


def test_an_unknown_format_is_422(client: TestClient, signal_id: int) -> None:
    status, body = error(client, f"/signals/{signal_id}/measurements", format="xlsx")

    assert (status, body["parameter"], body["expected"]) == (422, "format", "'json', 'csv' or 'parquet'")


def test_an_id_that_is_no_number_is_422(client: TestClient) -> None:
    status, body = error(client, "/signals/abc")

    assert (status, body["parameter"], body["got"]) == (422, "signal_id", "abc")


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor("measurements/hourly", 5), "e30"])
def test_a_cursor_from_elsewhere_is_422(client: TestClient, signal_id: int, cursor: str) -> None:
    status, body = error(client, f"/signals/{signal_id}/measurements", cursor=cursor)

    assert (status, body["parameter"], body["got"]) == (422, "cursor", cursor)


def test_values_reach_sql_as_parameters_not_text(client: TestClient) -> None:
    # A filter value that is SQL is compared as a value: it matches nothing and breaks nothing.
    response = client.get("/signals", params={"unit": "kV' OR '1'='1"})

    assert (response.status_code, response.json()) == (200, [])
    assert client.get("/signals").json()


def test_an_unknown_path_is_404_in_the_same_shape(client: TestClient) -> None:
    status, body = error(client, "/measurements")

    assert (status, body["error"], body["message"]) == (404, "not_found", "no such endpoint: /measurements")
