"""`haven demo`: xsim, Haven (web and workers) and the customer scenario, in one command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console
from rich.panel import Panel

from haven.app import create_app
from haven.config import VAR_DIR, Settings
from haven.demo.directory import UNLINKED_CUSTOMER, write_demo_directory
from haven.demo.scenario import Scenario
from haven.demo.seed import DemoCredentials, demo_x_credentials, seed_demo
from haven.runtime import Runtime
from haven.triage.intent import latest_version, save_model
from haven.triage.intent.cli import train_with_progress
from haven.triage.intent.data import DEFAULT_OUT_OF_SCOPE_CSV, DEFAULT_TRAIN_CSV

CREDENTIALS_FILE = VAR_DIR / "demo-credentials.json"
DIRECTORY_FILE = VAR_DIR / "demo-directory.json"
XSIM_LOG = VAR_DIR / "xsim.log"


async def _wait_until_up(url: str, *, within_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient(timeout=1.0) as client:
        while True:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up within {within_seconds:.0f} s")
            await asyncio.sleep(0.2)


def _show(console: Console, demo: DemoCredentials, credentials_file: Path) -> None:
    agents = "\n".join(f"  {a.role:<10} {a.email:<22} password: [bold]{a.password}[/]" for a in demo.agents)
    console.print(
        Panel.fit(
            f"Agent console   [bold cyan]{demo.console_url}[/]\n"
            f"Customer page   [bold cyan]{demo.xsim_url}[/]  (tweet at {demo.brand_handle})\n"
            f"Demo phone      [bold cyan]{demo.console_url}/demo/phone[/]  (secure-chat codes)\n"
            f"API docs        {demo.console_url}/api/docs\n\n"
            f"Sign in as:\n{agents}\n\n"
            f"API token       {demo.api_token}\n"
            f"All of this is also in {credentials_file}; xsim logs to {XSIM_LOG}\n\n"
            "Simulated customers start tweeting in a few seconds. Ctrl+C stops everything.\n"
            "Secure chat: in a conversation click Move to secure chat, open the link\n"
            "on the customer page, take the code from the demo phone. A customer not\n"
            f"linked to an X account types {UNLINKED_CUSTOMER['phone']}.",
            title="Haven demo is running",
        )
    )


async def run_demo(settings: Settings, *, xsim_port: int, with_scenario: bool) -> None:
    console = Console()
    xsim_url = f"http://{settings.host}:{xsim_port}"
    credentials = demo_x_credentials()
    env = {
        **os.environ,
        "XSIM_CONSUMER_KEY": credentials.consumer_key,
        "XSIM_CONSUMER_SECRET": credentials.consumer_secret,
        "XSIM_BRAND_ACCESS_TOKEN": credentials.access_token,
        "XSIM_BRAND_ACCESS_TOKEN_SECRET": credentials.access_token_secret,
        "XSIM_APP_BEARER_TOKEN": credentials.bearer_token,
    }
    VAR_DIR.mkdir(exist_ok=True)
    with XSIM_LOG.open("ab") as xsim_log:
        xsim = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "xsim", "--host", settings.host, "--port", str(xsim_port)),
            env=env,
            stdout=xsim_log,
            stderr=asyncio.subprocess.STDOUT,
        )
    runtime: Runtime | None = None
    scenario_task: asyncio.Task[None] | None = None
    scenario: Scenario | None = None
    try:
        await _wait_until_up(f"{xsim_url}/_sim/state")
        if settings.directory_file is None:
            directory = await write_demo_directory(xsim_url, DIRECTORY_FILE)
            settings = settings.model_copy(update={"directory_file": directory})
        if latest_version(settings.model_dir, settings.intent_model) is None:
            console.print(f"First start: training the {settings.intent_model} intent model.")
            model = await asyncio.to_thread(
                train_with_progress,
                settings.intent_model,
                DEFAULT_TRAIN_CSV,
                DEFAULT_OUT_OF_SCOPE_CSV,
                use_all=True,
            )
            save_model(model, settings.model_dir)
        runtime = Runtime.build(settings)
        await runtime.start()
        demo = await seed_demo(
            runtime, xsim_url=xsim_url, credentials=credentials, credentials_file=CREDENTIALS_FILE
        )
        demo.write(CREDENTIALS_FILE)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(runtime=runtime),
                host=settings.host,
                port=settings.port,
                log_level="warning",
            )
        )
        if with_scenario:
            scenario = Scenario(xsim_url, demo.brand_handle)
            scenario_task = asyncio.create_task(scenario.run(), name="demo-scenario")
        _show(console, demo, CREDENTIALS_FILE)
        await server.serve()
    finally:
        if scenario_task is not None:
            scenario_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scenario_task
        if scenario is not None:
            await scenario.aclose()
        if xsim.returncode is None:
            xsim.terminate()
            await xsim.wait()
        if runtime is not None:
            await runtime.close()
