"""The `haven` command: migrate, agent create, token create (each against a real database)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haven.cli import app
from haven.config import get_settings
from haven.models import Brand
from haven.runtime import Runtime
from haven.security.sessions import agent_for_api_token
from tests.conftest import make_settings
from tests.support import drop_database, new_database

runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = new_database(tmp_path)
    monkeypatch.setenv("HAVEN_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop_database(url)


async def _add_brand(url: str) -> None:
    runtime = Runtime.build(make_settings(url))
    try:
        async with runtime.database.unit_of_work() as session:
            session.add(
                Brand(slug="example-bank", name="Example Bank", public_web_url="https://bank.example")
            )
    finally:
        await runtime.close()


async def _agent_for_token(url: str, token: str) -> str | None:
    runtime = Runtime.build(make_settings(url))
    try:
        async with runtime.database.unit_of_work() as session:
            agent = await agent_for_api_token(session, token)
            return agent.email if agent else None
    finally:
        await runtime.close()


def test_migrate_is_idempotent(cli_database: str) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_agent_and_token_create(cli_database: str) -> None:
    asyncio.run(_add_brand(cli_database))
    password = "a long enough password\n"
    created = runner.invoke(
        app,
        ["agent", "create", "--email", "Kim@Bank.Example", "--name", "Kim", "--role", "supervisor"],
        input=password * 2,
    )
    assert created.exit_code == 0, created.output
    assert "kim@bank.example created" in created.output
    again = runner.invoke(
        app, ["agent", "create", "--email", "kim@bank.example", "--name", "Kim"], input=password * 2
    )
    assert again.exit_code == 1 and "exists already" in again.output
    short = runner.invoke(
        app, ["agent", "create", "--email", "lee@bank.example", "--name", "Lee"], input="short\nshort\n"
    )
    assert short.exit_code == 1 and "12 characters" in short.output
    nobrand = runner.invoke(
        app,
        ["agent", "create", "--email", "x@bank.example", "--name", "X", "--brand", "nope"],
        input=password * 2,
    )
    assert nobrand.exit_code == 1 and "no brand" in nobrand.output

    token = runner.invoke(app, ["token", "create", "--email", "kim@bank.example", "--name", "reporting"])
    assert token.exit_code == 0, token.output
    clear = token.output.strip()
    assert clear.startswith("hvn_")
    assert asyncio.run(_agent_for_token(cli_database, clear)) == "kim@bank.example"
    unknown = runner.invoke(app, ["token", "create", "--email", "nobody@bank.example"])
    assert unknown.exit_code == 1 and "no agent" in unknown.output


def test_unknown_role_is_refused(cli_database: str) -> None:
    result = runner.invoke(
        app,
        ["agent", "create", "--email", "a@b.c", "--name", "A", "--role", "god"],
        input="x" * 12 + "\n" + "x" * 12 + "\n",
    )
    assert result.exit_code == 2


async def _metered_world(url: str) -> None:
    from haven.usage import service as usage
    from tests.factories import make_world

    runtime = Runtime.build(make_settings(url))
    try:
        world = await make_world(runtime, tag="usage")
        async with runtime.database.unit_of_work() as session:
            await usage.flush(session, world.account.id, {"post.read": (2, 200), "dm.create": (1, 1)})
    finally:
        await runtime.close()


def test_x_usage_prints_reads_writes_and_estimated_spend(cli_database: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    asyncio.run(_metered_world(cli_database))
    result = runner.invoke(
        app, ["x", "usage", "--days", "7", "--brand", "bank-usage"], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    # 200 posts read at 0.005 and one DM at 0.015: 1.015, shown to the cent.
    assert "post.read" in result.output and "dm.create" in result.output and "1.01 " in result.output
    unknown = runner.invoke(app, ["x", "usage", "--brand", "nope"])
    assert unknown.exit_code == 1 and "no brand" in unknown.output
    assert runner.invoke(app, ["x", "usage", "--days", "0"]).exit_code != 0
