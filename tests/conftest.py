"""Suite-wide fixtures. The backend under test is chosen by the environment (see tests/support.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from sqlalchemy import delete

from haven.config import Settings
from haven.models import Base
from haven.runtime import Runtime
from haven.triage.intent import latest_version, save_model, train_model
from tests.support import drop_database, new_database

# Every Haven the suite starts (in this process or as a subprocess) shares one trained intent model:
# the first to need it trains it from the shipped data, the rest load it.
os.environ.setdefault(
    "HAVEN_MODEL_DIR", str(Path(__file__).resolve().parents[1] / "var" / "test-models" / "intent")
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Train the shared intent model before any Haven starts, so that no server under test spends its
    first seconds training it (the browser and end-to-end tests would wait on that)."""
    settings = Settings()
    if latest_version(settings.model_dir, settings.intent_model) is None:
        save_model(train_model(settings.intent_model, use_all=True), settings.model_dir)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failed test here: nothing may pass by being left out."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"{len(skipped)} test(s) skipped: skips count as failures", red=True)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = new_database(tmp_path_factory.mktemp("db"))
    yield url
    drop_database(url)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "run_workers": False,
        "public_base_url": "http://testserver",
        "poll_interval_seconds": 0.2,
        "outbox_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(settings)
    await rt.start()
    yield rt
    await rt.close()


@pytest.fixture
async def empty_database(runtime: Runtime) -> None:
    """Delete every row (children first); the schema stays as the migrations made it."""
    async with runtime.database.unit_of_work() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


#: Debian's Chromium, driven by Playwright: no browser download. .ci/run installs it when missing.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Flags for a closed network: no background traffic, no sandbox as root, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()
