"""End to end in headless Chromium: `warehouse ui` serves the asset graph, and `refresh`
launched from it succeeds. Screenshots land in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orchestration.conftest import PROJECT_ROOT, query
from kernel.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
STARTUP_SECONDS = 240
RUN_SECONDS = 420

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
                              "/usr/bin/chromedriver); .ci/run installs them"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`warehouse ui` exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"{url} did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def warehouse_ui(
    tmp_path_factory: pytest.TempPathFactory, _no_warehouse_env: None
) -> Iterator[tuple[str, Settings]]:
    """`warehouse ui` on a free port over a small generated data set; its URL and settings."""
    from sample_data import generate_dumps

    root = tmp_path_factory.mktemp("ui")
    generate_dumps(root / "data", 20_000, seed=7)
    settings = Settings(data_dir=root / "data", duckdb_path=root / "warehouse.duckdb",
                        dagster_home=root / "dagster_home")
    port = free_port()
    env = {**os.environ, "WAREHOUSE_DATA_DIR": str(settings.data_dir),
           "WAREHOUSE_DUCKDB_PATH": str(settings.duckdb_path),
           "WAREHOUSE_DAGSTER_HOME": str(settings.dagster_home),
           # The schedule and the dump sensor stay off: the test launches the one run.
           "WAREHOUSE_AUTOMATION_ENABLED": "false"}
    log = root / "warehouse-ui.log"
    with log.open("w") as output:
        command = [str(Path(sys.executable).parent / "warehouse"), "ui", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", process, log, STARTUP_SECONDS)
        yield f"http://127.0.0.1:{port}", settings
    finally:
        # dagster dev and its webserver, daemon and code servers share the session we started.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}", "--window-size=1800,1000"):
        options.add_argument(argument)
    # An explicit driver: selenium-manager would try to download one.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(driver, xpath: str, seconds: float):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=1).until(
        expected_conditions.visibility_of_element_located((By.XPATH, xpath)))


def text_is(text: str) -> str:
    return f"//*[normalize-space(text())='{text}']"


def dismiss_welcome_dialog(driver) -> None:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        if button.is_displayed():
            button.click()


def test_refresh_launched_from_the_asset_graph_succeeds(warehouse_ui, browser) -> None:
    from selenium.webdriver.common.by import By

    base, settings = warehouse_ui
    ARTIFACTS.mkdir(exist_ok=True)

    # The asset graph: the dumps, raw, staging and analytics groups of the one code location.
    # The dump files are observed, not materialized: the button counts what it builds.
    browser.get(f"{base}/asset-groups")
    wait_for(browser, "//button[starts-with(normalize-space(), 'Materialize all')]", STARTUP_SECONDS)
    time.sleep(2)
    dismiss_welcome_dialog(browser)
    for group in ("dumps", "raw", "staging", "analytics"):
        wait_for(browser, text_is(group), STARTUP_SECONDS)
    browser.save_screenshot(str(ARTIFACTS / "ui-asset-graph.png"))

    # Launch `refresh` from its job page.
    browser.get(f"{base}/locations/gridwarehouse/jobs/refresh")
    wait_for(browser, "//button[normalize-space()='Materialize all']", STARTUP_SECONDS).click()
    run_link = wait_for(browser, "//a[normalize-space()='View' and contains(@href, '/runs/')]", 60)
    run_url = run_link.get_attribute("href")

    browser.get(run_url)
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        states = {state for state in ("Success", "Failure", "Canceled")
                  if browser.find_elements(By.XPATH, text_is(state))}
        if states:
            break
        time.sleep(3)
    time.sleep(2)
    browser.save_screenshot(str(ARTIFACTS / "ui-refresh-run.png"))
    assert states == {"Success"}, f"run {run_url} ended {states or 'not within the time limit'}"

    # The lineage of a mart after the run: raw -> staging -> analytics, all materialized.
    browser.get(f"{base}/assets/analytics/measurements?view=lineage&lineageScope=upstream&lineageDepth=3")
    # Three levels up reach the raw group (raw/load_ledger -> staging -> the mart).
    wait_for(browser, text_is("load_ledger"), 60)
    deadline = time.monotonic() + 30
    while browser.find_elements(By.XPATH, "//*[contains(text(), 'Loading')]") and time.monotonic() < deadline:
        time.sleep(1)
    browser.save_screenshot(str(ARTIFACTS / "ui-measurements-lineage.png"))

    assert query(settings, "SELECT count(*) FROM analytics.measurements")[0][0] > 0
