"""The `haven` command: run the servers, migrate, manage agents and tokens, and the demo."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.config import Settings, get_settings
from haven.kit.errors import HavenError, NotFound
from haven.migrate import upgrade
from haven.models import Agent, Brand, Role
from haven.runtime import Runtime
from haven.triage.intent.cli import triage_app
from haven.triage.pii.cli import pii_app

app = typer.Typer(help="Haven: social customer care for regulated businesses.", no_args_is_help=True)
agent_app = typer.Typer(help="Manage agents.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")
app.add_typer(token_app, name="token")
app.add_typer(triage_app, name="triage")
app.add_typer(pii_app, name="pii")
console = Console()


def _settings(**overrides: object) -> Settings:
    settings = get_settings()
    updates = {k: v for k, v in overrides.items() if v is not None}
    if "port" in updates and "HAVEN_PUBLIC_BASE_URL" not in os.environ:
        updates["public_base_url"] = f"http://{updates.get('host', settings.host)}:{updates['port']}"
    return settings.model_copy(update=updates)


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP call to X would drown everything else; failures are logged by Haven itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = get_settings()
    upgrade(settings.database_url)
    console.print("[green]Database is up to date.[/]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[bool, typer.Option(help="Also run the background workers here.")] = True,
) -> None:
    """Run the console and API (and, by default, the background workers)."""
    settings = _settings(host=host, port=port, run_workers=workers)
    _logging(settings)
    from haven.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@app.command()
def worker() -> None:
    """Run only the background workers (pollers, inbound pipeline, outbox sender)."""
    settings = get_settings()
    _logging(settings)
    if not settings.redis_url:
        logging.getLogger("haven.worker").warning(
            "HAVEN_REDIS_URL is not set: consoles served by other processes will not see this worker's "
            "changes live (deliveries are still safe to share with them)"
        )
    from haven.workers.runner import Workers

    async def _run() -> None:
        runtime = Runtime.build(settings)
        await runtime.start()
        workers = Workers(runtime)
        workers.start()
        try:
            await asyncio.Event().wait()
        finally:
            await workers.stop()
            await runtime.close()

    asyncio.run(_run())


@app.command()
def xsim(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Run the X simulator (for the demo, tests and agent training).

    Named by its import string so that Haven itself never imports the simulator.
    """
    uvicorn.run("xsim.app:create_app", factory=True, host=host, port=port, log_level="info")


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Console port.")] = None,
    xsim_port: Annotated[int, typer.Option(help="X simulator port.")] = 8100,
    scenario: Annotated[bool, typer.Option(help="Let simulated customers tweet.")] = True,
) -> None:
    """Migrate, seed Example Bank, and run xsim, Haven and simulated customers together."""
    settings = _settings(port=port)
    _logging(settings)
    upgrade(settings.database_url)
    from haven.demo.runner import run_demo

    asyncio.run(run_demo(settings, xsim_port=xsim_port, with_scenario=scenario))


T = TypeVar("T")


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    runtime = Runtime.build(settings)
    try:
        async with runtime.database.unit_of_work() as session:
            return await work(session)
    finally:
        await runtime.close()


@agent_app.command("create")
def agent_create(
    email: Annotated[str, typer.Option(help="Sign-in e-mail.")],
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")],
    role: Annotated[Role, typer.Option(help="Role.")] = Role.AGENT,
    brand: Annotated[str, typer.Option(help="Brand slug.")] = "example-bank",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create an agent."""
    from haven.agents.service import create_agent

    async def work(session: AsyncSession) -> Agent:
        brand_row = await session.scalar(select(Brand).where(Brand.slug == brand))
        if brand_row is None:
            raise HavenError(f"no brand {brand!r}; run `haven demo` or create one first")
        return await create_agent(
            session,
            brand_id=brand_row.id,
            email=email,
            display_name=name,
            password=password,
            role=role,
        )

    try:
        created = asyncio.run(_with_session(get_settings(), work))
    except HavenError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(f"[green]Agent {created.email} created (id {created.id}).[/]")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The agent the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Create a personal access token for the JSON API; it is shown once."""
    from haven.security.sessions import create_api_token

    async def work(session: AsyncSession) -> str:
        agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
        if agent is None:
            raise HavenError(f"no agent with e-mail {email}")
        _, token = await create_api_token(session, agent, name)
        return token

    try:
        token = asyncio.run(_with_session(get_settings(), work))
    except HavenError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(token)


x_app = typer.Typer(help="The X channel.", no_args_is_help=True)
webhook_app = typer.Typer(
    help="Account Activity webhooks: X pushes an account's posts and DMs to /hooks/x/<app id>.",
    no_args_is_help=True,
)
app.add_typer(x_app, name="x")
x_app.add_typer(webhook_app, name="webhook")

XAccountOption = Annotated[
    str | None, typer.Option("--account", help="The X handle (may be left out when there is one).")
]


def _x_admin(work: Callable[[Runtime, AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one unit of work; X's refusals and the domain's errors end the command cleanly."""
    import httpx

    from haven.channels.x.client import XApiError

    async def run() -> T:
        runtime = Runtime.build(get_settings())
        try:
            async with runtime.database.unit_of_work() as session:
                return await work(runtime, session)
        finally:
            await runtime.close()

    try:
        return asyncio.run(run())
    except HavenError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    except XApiError as exc:
        console.print(f"[red]X refused: {exc}[/]")
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        console.print(f"[red]Could not reach X: {type(exc).__name__}[/]")
        raise typer.Exit(1) from exc


@webhook_app.command("register")
def webhook_register(
    account: XAccountOption = None,
    url: Annotated[
        str | None,
        typer.Option(help="Haven's public URL as X reaches it (default: HAVEN_PUBLIC_BASE_URL)."),
    ] = None,
    enable: Annotated[bool, typer.Option(help="Switch the account's ingest.webhooks on.")] = True,
) -> None:
    """Register Haven's webhook with X (X runs a CRC against it) and subscribe the account."""
    from haven.channels.x import webhook_admin

    async def work(runtime: Runtime, session: AsyncSession) -> webhook_admin.Registration:
        found = await webhook_admin.find_account(session, account)
        public_url = url or runtime.settings.public_base_url
        return await webhook_admin.register(session, runtime.cipher, found, public_url, enable=enable)

    done = _x_admin(work)
    console.print(f"Webhook {done.webhook_id}{' (already registered)' if done.reused else ''}: {done.url}")
    console.print(f"App id: {done.app_id}")
    console.print("Subscribed" + (" (already)." if done.already_subscribed else "."))
    if done.webhooks_enabled:
        console.print("[green]ingest.webhooks is on: deliveries are stored.[/]")
    else:
        console.print("[yellow]ingest.webhooks is off: deliveries are answered but dropped.[/]")


@webhook_app.command("list")
def webhook_list(account: XAccountOption = None) -> None:
    """The app's webhooks, and whether the account is subscribed to each."""
    from haven.channels.x import webhook_admin

    async def work(
        runtime: Runtime, session: AsyncSession
    ) -> tuple[str, str, list[webhook_admin.WebhookInfo]]:
        found = await webhook_admin.find_account(session, account)
        the_app_id = webhook_admin.account_app_id(runtime.cipher, found)
        expected = webhook_admin.hook_url(runtime.settings.public_base_url, the_app_id)
        return the_app_id, expected, await webhook_admin.list_webhooks(runtime.cipher, found)

    the_app_id, expected, webhooks = _x_admin(work)
    console.print(f"App id: {the_app_id}; Haven's hook URL: {expected}")
    if not webhooks:
        console.print("No webhooks registered.")
    for webhook in webhooks:
        state = "valid" if webhook.valid else "NOT valid"
        subscribed = "subscribed" if webhook.subscribed else "not subscribed"
        console.print(f"{webhook.webhook_id}  {webhook.url}  {state}, {subscribed}")


@webhook_app.command("remove")
def webhook_remove(
    webhook_id: Annotated[str, typer.Option("--id", help="The webhook id (see `haven x webhook list`).")],
    account: XAccountOption = None,
) -> None:
    """Delete the app's webhook; X stops delivering (the account's other ingest paths keep going)."""
    from haven.channels.x import webhook_admin

    async def work(runtime: Runtime, session: AsyncSession) -> None:
        found = await webhook_admin.find_account(session, account)
        await webhook_admin.remove_webhook(runtime.cipher, found, webhook_id)

    _x_admin(work)
    console.print(f"[green]Webhook {webhook_id} removed.[/]")


@x_app.command("usage")
def x_usage(
    days: Annotated[int, typer.Option(min=1, max=366, help="How many UTC days back, today included.")] = 30,
    brand: Annotated[str | None, typer.Option(help="The brand's slug (default: every brand).")] = None,
) -> None:
    """Reads and writes per X account and operation, with the spend they are estimated to cost."""
    from datetime import timedelta

    from rich.table import Table
    from sqlalchemy import select

    from haven.kit.clock import utcnow
    from haven.models import Brand
    from haven.usage import service as usage

    since = utcnow().date() - timedelta(days=days - 1)

    async def work(runtime: Runtime, session: AsyncSession) -> list[tuple[Brand, usage.UsageReport]]:
        query = select(Brand).order_by(Brand.slug)
        if brand is not None:
            query = query.where(Brand.slug == brand)
        brands = (await session.scalars(query)).all()
        if not brands:
            raise NotFound(f"no brand {brand!r}" if brand else "no brands yet")
        prices = runtime.settings.x_prices
        return [(b, await usage.report(session, brand_id=b.id, since=since, prices=prices)) for b in brands]

    for found, report in _x_admin(work):
        table = Table(title=f"{found.name}: X API usage since {since:%Y-%m-%d} (UTC)")
        for column in ("account", "operation", "requests", "billed items", "US$ each", "estimated US$"):
            table.add_column(column, justify="left" if column in ("account", "operation") else "right")
        for line in report.lines:
            table.add_row(
                f"@{line.handle}",
                line.operation,
                str(line.requests),
                str(line.resources),
                f"{line.unit_price:.3f}",
                f"{line.spend:.2f}",
            )
        table.add_row("", "total", "", "", "", f"{report.total_spend:.2f}", style="bold")
        console.print(table)
