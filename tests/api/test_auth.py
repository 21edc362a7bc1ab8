"""Bearer tokens when configured, open on the loopback otherwise; CORS only when asked for."""

from __future__ import annotations

import pytest

from api.auth import TokensRequired, check_binding, is_loopback
from tests.api.conftest import Served

TOKENS = "first-token, second-token"


@pytest.fixture
def served(duckdb_served: Served) -> Served:
    return duckdb_served


def test_without_tokens_every_endpoint_is_open(served: Served) -> None:
    with served.client() as client:
        assert client.get("/assets").status_code == 200


def test_with_tokens_a_data_endpoint_wants_one(served: Served) -> None:
    with served.client(api_tokens=TOKENS) as client:
        response = client.get("/assets")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["message"].startswith("this endpoint needs `Authorization: Bearer <token>`")


@pytest.mark.parametrize("header", ["Bearer third-token", "Bearer first", "Basic Zmlyc3QtdG9rZW4=", "first-token"])
def test_a_wrong_token_or_scheme_is_refused(served: Served, header: str) -> None:
    with served.client(api_tokens=TOKENS) as client:
        assert client.get("/signals", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize("token", ["first-token", "second-token"])
def test_each_configured_token_is_accepted(served: Served, token: str) -> None:
    with served.client(api_tokens=TOKENS) as client:
        response = client.get("/signals", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()


def test_probes_and_documentation_need_no_token(served: Served) -> None:
    with served.client(api_tokens=TOKENS) as client:
        statuses = {path: client.get(path).status_code for path in ("/health", "/ready", "/openapi.json", "/docs")}

    assert statuses == {"/health": 200, "/ready": 200, "/openapi.json": 200, "/docs": 200}


def test_the_documentation_offers_the_bearer_scheme(served: Served) -> None:
    with served.client(api_tokens=TOKENS) as client:
        document = client.get("/openapi.json").json()

    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer", "description": "A token of WAREHOUSE_API_TOKENS."}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_serves_without_tokens(host: str) -> None:
    assert is_loopback(host)
    check_binding(host, frozenset())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "api.example.org"])
def test_any_other_address_needs_tokens(host: str) -> None:
    with pytest.raises(TokensRequired, match="set WAREHOUSE_API_TOKENS"):
        check_binding(host, frozenset())
    check_binding(host, frozenset({"a-token"}))


def test_cors_is_off_by_default(served: Served) -> None:
    with served.client() as client:
        response = client.get("/assets", headers={"Origin": "https://dashboard.example.org"})

    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_the_configured_origins_only(served: Served) -> None:
    with served.client(api_cors_origins="https://dashboard.example.org") as client:
        allowed = client.options("/assets", headers={"Origin": "https://dashboard.example.org",
                                                     "Access-Control-Request-Method": "GET"})
        other = client.get("/assets", headers={"Origin": "https://elsewhere.example.org"})

    assert allowed.headers["access-control-allow-origin"] == "https://dashboard.example.org"
    assert "access-control-allow-origin" not in other.headers
