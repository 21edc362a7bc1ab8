"""The deployment files say what docs/deployment.md promises: checked without a Docker engine."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from kernel.logging_config import LOGGERS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DEPLOY_DAGSTER = PROJECT_ROOT / "deploy" / "dagster"
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?[-?][^}]*)?\}")
ONLY_A_VARIABLE = re.compile(r"^\$\{[A-Z0-9_]+(:?\?[^}]*)?\}$")
LONG_RUNNING = ("warehouse-db", "dagster-db", "code-location", "webserver", "daemon", "api")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def test_services_of_the_deployment(services: dict) -> None:
    assert set(services) == {"warehouse-db", "dagster-db", "migrate", "code-location", "webserver", "daemon",
                             "api"}


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_health_checks_and_restart(services: dict, name: str) -> None:
    service = services[name]
    assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    assert service["restart"] == "unless-stopped"


def test_start_up_order(services: dict) -> None:
    def conditions(name: str) -> dict[str, str]:
        return {dependency: spec["condition"] for dependency, spec in services[name]["depends_on"].items()}

    assert conditions("migrate") == {"warehouse-db": "service_healthy"}
    assert conditions("code-location") == {"migrate": "service_completed_successfully",
                                           "dagster-db": "service_healthy"}
    assert conditions("webserver") == {"dagster-db": "service_healthy", "code-location": "service_healthy"}
    assert conditions("daemon") == {"dagster-db": "service_healthy", "code-location": "service_healthy"}
    assert conditions("api") == {"migrate": "service_completed_successfully"}


def test_published_ports_are_bound_to_loopback(services: dict) -> None:
    published = {name: service.get("ports", []) for name, service in services.items() if service.get("ports")}

    assert set(published) == {"warehouse-db", "webserver", "api"}
    assert all(str(port).startswith("127.0.0.1:") for ports in published.values() for port in ports)
    assert published["webserver"] == ["127.0.0.1:${DAGSTER_WEBSERVER_PORT:-3000}:3000"]
    assert published["api"] == ["127.0.0.1:${WAREHOUSE_API_PORT:-8000}:8000"]


def test_no_secret_is_written_in_the_file(services: dict) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if "PASSWORD" in key or "SECRET" in key or "TOKEN" in key:
                assert ONLY_A_VARIABLE.match(value), f"{name}: {key} must be a ${{VARIABLE}}, not a value"
            for secret in re.findall(r"password=(\S*)", value):
                assert ONLY_A_VARIABLE.match(secret), f"{name}: {key} holds a password that is not a variable"


def test_every_variable_is_documented_in_env_example() -> None:
    used = {match["name"] for match in VARIABLE.finditer(COMPOSE_FILE.read_text(encoding="utf-8"))}
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, flags=re.MULTILINE))

    assert used - documented == set()


def test_env_file_stays_out_of_git_and_the_image() -> None:
    assert ".env" in (PROJECT_ROOT / ".gitignore").read_text().split()
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text().split()


def test_data_folder_is_mounted_read_only(services: dict) -> None:
    data_mounts = [volume for service in services.values() for volume in service.get("volumes", [])
                   if volume.split(":")[-2 if volume.endswith(":ro") else -1] == "/data"]

    assert data_mounts == ["${WAREHOUSE_DATA_HOST_DIR:-./data}:/data:ro"]


def test_database_files_live_in_named_volumes(compose: dict, services: dict) -> None:
    assert set(compose["volumes"]) == {"warehouse-db-data", "dagster-db-data", "dagster-compute-logs"}
    # PostgreSQL 18 images keep their data under /var/lib/postgresql/18/docker.
    assert "warehouse-db-data:/var/lib/postgresql" in services["warehouse-db"]["volumes"]
    assert services["dagster-db"]["volumes"] == ["dagster-db-data:/var/lib/postgresql"]


def test_each_service_connects_as_its_own_role(services: dict) -> None:
    migrate = environment(services["migrate"])["WAREHOUSE_PG_DSN"]
    code = environment(services["code-location"])

    assert "user=${WAREHOUSE_DB_ADMIN_USER:-warehouse_admin}" in migrate
    assert "user=${WAREHOUSE_LOADER_USER:-loader}" in code["WAREHOUSE_PG_DSN"]
    assert "user=${WAREHOUSE_TRANSFORMER_USER:-transformer}" in code["WAREHOUSE_TRANSFORMER_PG_DSN"]
    assert code["WAREHOUSE_ENV"] == "prod"
    # The read API holds the analyst's login only, and tokens it cannot start without.
    api = environment(services["api"])
    assert "user=${WAREHOUSE_ANALYST_USER:-analyst}" in api["WAREHOUSE_PG_DSN"]
    assert api["WAREHOUSE_READER_PG_DSN"] == api["WAREHOUSE_PG_DSN"]
    assert api["WAREHOUSE_API_TOKENS"] == "${WAREHOUSE_API_TOKENS}"
    assert not [key for key in api if key.startswith("WAREHOUSE_TRANSFORMER") or key.startswith("DAGSTER_")]
    # The webserver and the daemon hold Dagster's credentials only, never the warehouse's.
    for name in ("webserver", "daemon"):
        assert not [key for key in environment(services[name]) if key.startswith("WAREHOUSE_")]


def test_init_script_is_executable() -> None:
    script = PROJECT_ROOT / "deploy" / "postgres-init" / "10-warehouse-users.sh"
    assert script.stat().st_mode & stat.S_IXUSR


def test_deployment_instance_keeps_state_in_postgres_and_logs_the_warehouse() -> None:
    instance = yaml.safe_load((DEPLOY_DAGSTER / "dagster.yaml").read_text(encoding="utf-8"))
    local = yaml.safe_load((PROJECT_ROOT / "orchestration" / "dagster.yaml").read_text(encoding="utf-8"))

    postgres = instance["storage"]["postgres"]["postgres_db"]
    assert {key: value for key, value in postgres.items() if key != "scheme"} == {
        field: {"env": f"DAGSTER_PG_{variable}"} for field, variable in
        [("hostname", "HOST"), ("port", "PORT"), ("username", "USER"), ("password", "PASSWORD"), ("db_name", "DB")]}
    assert postgres["scheme"] == "postgresql+psycopg2"
    assert set(instance["python_logs"]["managed_python_loggers"]) == set(LOGGERS)
    # The run queue and pools the orchestration code relies on are the same as locally.
    assert instance["concurrency"] == local["concurrency"]
    assert instance["run_monitoring"] == local["run_monitoring"]
    assert instance["python_logs"] == local["python_logs"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="apt-get install docker-compose")
@pytest.mark.parametrize("env_file", [None, ".env.example"])
def test_docker_compose_config_is_valid(env_file: str | None) -> None:
    command = ["docker-compose", *(["--env-file", env_file] if env_file else []), "config", "-q"]
    # Without .env the passwords are blank (compose warns); the file must still be valid.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}

    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr


def test_ci_workflow_runs_what_ci_runs() -> None:
    workflow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    steps = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]

    assert ".ci/run" in steps
    assert any("docker-compose config -q" in step for step in steps)
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_the_api_is_healthy_only_when_ready(services: dict) -> None:
    api = services["api"]

    assert api["command"][:2] == ["warehouse", "serve"]
    assert "http://127.0.0.1:8000/ready" in " ".join(api["healthcheck"]["test"])
