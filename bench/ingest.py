"""Ingest benchmark: how fast Haven takes in customer posts, and how soon an agent sees them.

Two measurements, each on a fresh database of its own:

1. **Pipeline throughput**, in this process: ``--events`` realistic X v2 tweet events (new threads
   that @-mention the brand, replies into threads the same customer opened, a few retweets, spread
   over many customers) are stored in batches of 100 as the poller and the stream do
   (``store_raw_events``), and ``process_pending`` turns them into contacts, conversations and
   messages, publishing a change notice for each (parse, store, thread, triage, notify). Storing and
   processing alternate every 1,000 events, the way the workers interleave them; the figure is events
   divided by the time spent in both.
2. **Latency**, end to end over real sockets: xsim and ``haven serve`` (web and workers) run as child
   processes; an agent signs in and holds the console WebSocket open; xsim's traffic generator posts
   ``--rate`` tweets a second (250: the filtered stream's cap) for ``--seconds``. For every tweet,
   latency is the time from xsim accepting it to the console receiving the first
   ``conversation.changed`` of the conversation it opened. Every tweet must arrive.

The last line of the output is machine-readable: ``events_per_s=<n> p50_ms=<n> p99_ms=<n>``.

Usage::

    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/0

With a PostgreSQL URL, a throwaway database is created on that server for each measurement and
dropped at the end; the database the URL names is only used to create and drop them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import os
import platform
import pstats
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis.asyncio as redis
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect as websocket_connect
from websockets.typing import Origin

from haven.channels.x.client import XCredentials
from haven.channels.x.parse import RAW_FORMAT, RawEvent, envelope
from haven.config import Settings
from haven.demo.seed import DemoCredentials, demo_x_credentials, seed_demo
from haven.inbound.pipeline import process_pending
from haven.inbound.store import store_raw_events, write_cursor
from haven.migrate import upgrade
from haven.models import ChannelAccount, Contact, Conversation, InboundEvent, Message
from haven.runtime import Runtime
from haven.security.sessions import SESSION_COOKIE

#: Events stored per transaction: a page of mentions, or a batch of stream lines.
STORE_BATCH = 100
#: Events stored between two runs of the pipeline.
CHUNK = 1_000
#: Share of events that reply into a thread their author already opened, and that are retweets.
REPLY_SHARE = 0.28
RETWEET_SHARE = 0.02
#: The account's ingestion paths for the latency run: the stream carries posts at once, mentions
#: polling is the safety net, as recommended in ``haven.channels.x.stream``.
STREAM_SETTINGS: dict[str, Any] = {"ingest": {"mentions": True, "stream": True, "dms": False}}
#: Tweets posted (and awaited) before the measured run, so that cold caches are not measured.
WARMUP_TWEETS = 25
#: How long to wait, after the last post, for the console to hear of every conversation.
ARRIVAL_TIMEOUT = 120.0
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
TEXTS = (
    "my card was declined at the supermarket, what is going on?",
    "I can't log in to the app since this morning",
    "how do I raise my daily transfer limit?",
    "still waiting for the refund you promised last week",
    "is there an outage? payments are failing",
    "thanks, that worked!",
    "why was I charged twice for the same purchase?",
    "I lost my card abroad, please block it",
)

err = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)


class BenchFailure(Exception):
    """The benchmark could not measure what it should (something did not arrive, a server died)."""


# --- Machine, databases and child processes ---------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


async def _admin_connection(url: str, database: str) -> Any:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=database,
    )


def new_postgres_url(base_url: str) -> str:
    """The URL of a database that does not exist yet, on the server of ``base_url``."""
    name = f"haven_bench_{uuid.uuid4().hex[:12]}"
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


async def create_postgres_database(base_url: str, url: str) -> None:
    connection = await _admin_connection(base_url, make_url(base_url).database or "postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{make_url(url).database}"')
    finally:
        await connection.close()


async def drop_postgres_database(url: str) -> None:
    connection = await _admin_connection(url, "postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass
class Workspace:
    """What the run creates and must remove, whatever happens: files, databases, child processes."""

    directory: Path
    base_url: str | None
    databases: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    async def new_database(self, label: str) -> str:
        """A fresh database migrated to the head revision."""
        if self.base_url is None:
            url = f"sqlite+aiosqlite:///{self.directory / f'{label}.db'}"
            self.databases.append(url)
        else:
            url = new_postgres_url(self.base_url)
            self.databases.append(url)  # before it exists: an interrupt now still drops it
            await create_postgres_database(self.base_url, url)
        await asyncio.to_thread(upgrade, url)
        return url

    async def drop_database(self, url: str) -> None:
        if url in self.databases:
            self.databases.remove(url)
            if is_postgres(url):
                await drop_postgres_database(url)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Child:
        child = Child(name, args, env, self.directory)
        self.children.append(child)
        return child

    def cleanup(self) -> None:
        # A second Ctrl+C (or SIGTERM) must not cut the cleanup short: haven serve takes a few
        # seconds to shut down gracefully, and an interrupted cleanup leaves servers and databases.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        for url in list(self.databases):
            if is_postgres(url):
                try:
                    asyncio.run(drop_postgres_database(url))
                except Exception as exc:
                    err.print(f"[yellow]could not drop {make_url(url).database}: {exc}[/]")
        self.databases.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


class Child:
    """A server run as ``python -m …``; its output goes to a log file in the workspace."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], directory: Path) -> None:
        self.name = name
        self.log_path = directory / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, **env},
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, url: str, *, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise BenchFailure(f"{self.name} exited with {self.process.returncode} while starting")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code < 500:
                        return
                await asyncio.sleep(0.1)
        raise BenchFailure(f"{self.name} did not answer {url} within {within:.0f} s")

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def bench_settings(database_url: str, redis_url: str | None, public_base_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        run_workers=False,
        public_base_url=public_base_url,
        log_level="WARNING",
    )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.close()


async def database_version(runtime: Runtime) -> str:
    if not is_postgres(runtime.settings.database_url):
        return f"SQLite {sqlite3.sqlite_version} (WAL)"
    async with runtime.database.reader() as session:
        version = await session.scalar(text("SHOW server_version"))
    return f"PostgreSQL {str(version).split()[0]}"


async def redis_version(url: str) -> str:
    client = redis.from_url(url)
    try:
        info: dict[str, Any] = await client.info("server")
        return f"Redis {info.get('redis_version', '?')}"
    finally:
        await client.aclose()


async def seed(
    runtime: Runtime, xsim_url: str, credentials: XCredentials, directory: Path
) -> DemoCredentials:
    """Example Bank, its agents and its X account (the one xsim knows), as ``haven demo`` seeds them."""
    return await seed_demo(
        runtime,
        xsim_url=xsim_url,
        credentials=credentials,
        credentials_file=directory / f"credentials-{uuid.uuid4().hex[:6]}.json",
    )


async def the_account(runtime: Runtime) -> ChannelAccount:
    async with runtime.database.reader() as session:
        return (await session.scalars(select(ChannelAccount))).one()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        refresh_per_second=4,
        transient=True,
    )


# --- 1. Pipeline throughput --------------------------------------------------------------------------


@dataclass
class Workload:
    events: list[RawEvent]
    customers: int
    threads: int
    replies: int
    retweets: int


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_workload(count: int, *, brand_id: str, brand_handle: str, seed_value: int = 2026) -> Workload:
    """``count`` tweet events as the poller stores them, oldest first, the same on every run."""
    rng = random.Random(seed_value)
    customers = max(1, count // 10)
    start = datetime.now(UTC) - timedelta(milliseconds=count * 10)
    latest_thread: dict[int, tuple[str, str]] = {}  # customer → (root id, newest id in the thread)
    posted: list[str] = []
    events: list[RawEvent] = []
    replies = retweets = 0
    mention = {"start": 0, "end": len(brand_handle) + 1, "username": brand_handle, "id": brand_id}
    for n in range(count):
        tweet_id = str(1_900_000_000_000_000_000 + n)
        customer = rng.randrange(customers)
        author = {"id": str(1_700_000_000_000_000_000 + customer), "username": f"cust{customer}"}
        author["name"] = f"Customer {customer}"
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "author_id": author["id"],
            "created_at": iso(start + timedelta(milliseconds=n * 10)),
            "edit_history_tweet_ids": [tweet_id],
            "lang": "en",
        }
        roll = rng.random()
        if roll < RETWEET_SHARE and posted:
            original = rng.choice(posted)
            tweet |= {
                "text": f"RT @someone: @{brand_handle} {rng.choice(TEXTS)}",
                "conversation_id": original,
                "referenced_tweets": [{"type": "retweeted", "id": original}],
            }
            retweets += 1
        elif roll < RETWEET_SHARE + REPLY_SHARE and customer in latest_thread:
            root, parent = latest_thread[customer]
            tweet |= {
                "text": f"@{brand_handle} {rng.choice(TEXTS)}",
                "conversation_id": root,
                "in_reply_to_user_id": author["id"],
                "referenced_tweets": [{"type": "replied_to", "id": parent}],
                "entities": {"mentions": [mention]},
            }
            latest_thread[customer] = (root, tweet_id)
            replies += 1
        else:
            tweet |= {
                "text": f"@{brand_handle} {rng.choice(TEXTS)} (#{n})",
                "conversation_id": tweet_id,
                "entities": {"mentions": [mention]},
            }
            latest_thread[customer] = (tweet_id, tweet_id)
            posted.append(tweet_id)
        events.append(RawEvent(tweet_id, envelope(RAW_FORMAT, tweet, author, "tweet")))
    return Workload(events, len(latest_thread), count - replies - retweets, replies, retweets)


@dataclass
class PipelineResult:
    events: int
    store_seconds: float
    process_seconds: float
    workload: Workload
    profile: str | None

    @property
    def seconds(self) -> float:
        return self.store_seconds + self.process_seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


async def measure_pipeline(
    runtime: Runtime, *, count: int, profile: bool, progress: Progress
) -> PipelineResult:
    account = await the_account(runtime)
    workload = make_workload(count, brand_id=account.external_user_id, brand_handle=account.handle)
    profiler = cProfile.Profile() if profile else None
    task = progress.add_task("pipeline", total=count)
    store_seconds = process_seconds = 0.0
    for chunk_start in range(0, count, CHUNK):
        chunk = workload.events[chunk_start : chunk_start + CHUNK]
        started = time.perf_counter()
        for batch_start in range(0, len(chunk), STORE_BATCH):
            batch = chunk[batch_start : batch_start + STORE_BATCH]
            async with runtime.database.unit_of_work() as session:
                await store_raw_events(session, account.id, "mentions", batch)
                await write_cursor(session, account.id, "mentions", batch[-1].external_id)
        stored = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = await process_pending(runtime)
        if profiler is not None:
            profiler.disable()
        store_seconds += stored - started
        process_seconds += time.perf_counter() - stored
        if result.failed or result.processed != len(chunk):
            raise BenchFailure(
                f"the pipeline processed {result.processed} of {len(chunk)} ({result.failed} failed)"
            )
        progress.update(task, advance=len(chunk))
    progress.remove_task(task)
    await check_pipeline_output(runtime, account, workload)
    report = None
    if profiler is not None:
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream).strip_dirs()
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        report = stream.getvalue()
    return PipelineResult(count, store_seconds, process_seconds, workload, report)


async def check_pipeline_output(runtime: Runtime, account: ChannelAccount, workload: Workload) -> None:
    """Every event processed, and exactly the messages, conversations and contacts it implies."""
    async with runtime.database.reader() as session:
        pending = await session.scalar(
            select(func.count()).select_from(InboundEvent).where(InboundEvent.processed_at.is_(None))
        )
        messages = await session.scalar(
            select(func.count()).select_from(Message).where(Message.channel_account_id == account.id)
        )
        conversations = await session.scalar(select(func.count()).select_from(Conversation))
        contacts = await session.scalar(select(func.count()).select_from(Contact))
    expected = (0, workload.threads + workload.replies, workload.threads, workload.customers)
    found = (pending, messages, conversations, contacts)
    if found != expected:
        raise BenchFailure(
            f"pipeline output (pending, messages, conversations, contacts) is {found}, expected {expected}"
        )


# --- 2. Latency: xsim accepts a tweet → the console hears of its conversation ------------------------


@dataclass
class LatencyResult:
    tweets: int
    arrived: int
    rate: float
    achieved_rate: float
    latencies_ms: list[float]

    def at(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


class ConsoleListener:
    """An agent's console WebSocket; keeps when the first notice of each conversation arrived."""

    def __init__(self) -> None:
        self.first_seen: dict[int, float] = {}
        self.hello = asyncio.Event()

    async def listen(self, haven_url: str, cookie: str) -> None:
        ws_url = haven_url.replace("http://", "ws://", 1) + "/ws/console"
        async with websocket_connect(
            ws_url,
            origin=Origin(haven_url),
            additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            proxy=None,
            compression=None,
            max_queue=None,
        ) as socket:
            async for raw in socket:
                now = time.time()
                notice = json.loads(raw)
                if notice.get("type") == "hello":
                    self.hello.set()
                elif notice.get("type") == "conversation.changed":
                    self.first_seen.setdefault(int(notice["conversation_id"]), now)


async def sign_in(haven_url: str, email: str, password: str) -> str:
    """Sign in through the login form, as a browser does; returns the session cookie."""
    async with httpx.AsyncClient(base_url=haven_url, timeout=10, trust_env=False) as client:
        page = await client.get("/login")
        match = _CSRF_INPUT.search(page.text)
        if match is None:
            raise BenchFailure("the login page has no CSRF field")
        response = await client.post(
            "/login",
            data={"csrf_token": match.group(1), "email": email, "password": password},
            headers={"Origin": haven_url},
        )
        cookie = client.cookies.get(SESSION_COOKIE)
        if response.status_code != 303 or not cookie:
            raise BenchFailure(f"could not sign in as {email}: HTTP {response.status_code}")
        return cookie


async def wait_for_stream(xsim: httpx.AsyncClient, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        state = (await xsim.get("/_sim/stream")).json()
        if state["connected"] and state["rules"] > 0:
            return
        await asyncio.sleep(0.1)
    raise BenchFailure(f"Haven did not connect to xsim's filtered stream within {within:.0f} s")


async def traffic(
    xsim: httpx.AsyncClient,
    listener: ConsoleListener,
    haven: Child,
    plan: dict[str, Any],
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Run one traffic plan and wait until the console heard of every new conversation.

    Returns the posts xsim accepted (``id``, ``kind``, ``at``).
    """
    already = len(listener.first_seen)
    response = await xsim.post("/_sim/traffic", json=plan)
    if response.status_code != 202:
        raise BenchFailure(f"xsim refused the traffic plan: HTTP {response.status_code} {response.text}")
    total = plan["tweets"]
    posted = progress.add_task("posted by xsim", total=total) if progress else None
    arrived = progress.add_task("seen by console", total=total) if progress else None
    finished_at: float | None = None
    while True:
        if not haven.alive():
            raise BenchFailure("haven serve exited during the run")
        status = (await xsim.get("/_sim/traffic")).json()
        seen = len(listener.first_seen) - already
        if progress is not None and posted is not None and arrived is not None:
            progress.update(posted, completed=status["tweets_created"])
            progress.update(arrived, completed=seen)
        if not status["running"]:
            if status["error"]:
                raise BenchFailure(f"xsim's traffic run failed: {status['error']}")
            finished_at = finished_at or time.monotonic()
            if seen >= total:
                break
            if time.monotonic() - finished_at > ARRIVAL_TIMEOUT:
                raise BenchFailure(
                    f"only {seen} of {total} conversations reached the console within "
                    f"{ARRIVAL_TIMEOUT:.0f} s of the last post"
                )
        await asyncio.sleep(0.25)
    for task in (posted, arrived):
        if progress is not None and task is not None:
            progress.remove_task(task)
    accepted: list[dict[str, Any]] = (await xsim.get("/_sim/traffic", params={"posts": "true"})).json()[
        "accepted"
    ]
    return accepted


async def measure_latency(
    runtime: Runtime,
    demo: DemoCredentials,
    *,
    xsim_url: str,
    haven_url: str,
    haven: Child,
    tweets: int,
    rate: float,
    progress: Progress,
) -> LatencyResult:
    agent = demo.agents[0]
    cookie = await sign_in(haven_url, agent.email, agent.password)
    listener = ConsoleListener()
    listening = asyncio.create_task(listener.listen(haven_url, cookie), name="console-socket")
    try:
        hello = asyncio.create_task(listener.hello.wait())
        await asyncio.wait({listening, hello}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        hello.cancel()
        if listening.done():
            listening.result()  # raises what ended it
            raise BenchFailure("the console WebSocket closed at once")
        if not listener.hello.is_set():
            raise BenchFailure("the console WebSocket did not say hello")
        async with httpx.AsyncClient(base_url=xsim_url, timeout=30, trust_env=False) as xsim:
            await wait_for_stream(xsim)
            warmup = {"prefix": "warm", "customers": 5, "tweets": WARMUP_TWEETS, "rate_per_second": 25}
            await traffic(xsim, listener, haven, warmup, None)
            plan = {"prefix": "bench", "customers": 200, "tweets": tweets, "rate_per_second": rate}
            accepted = await traffic(xsim, listener, haven, plan, progress)
            status = (await xsim.get("/_sim/traffic")).json()
        if listening.done():
            listening.result()
            raise BenchFailure("the console WebSocket closed during the run")
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listening

    posts = [post for post in accepted if post["kind"] == "tweet"]
    if len(posts) != tweets:
        raise BenchFailure(f"xsim accepted {len(posts)} tweets, not {tweets}")
    async with runtime.database.reader() as session:
        rows = (await session.execute(select(Conversation.thread_key, Conversation.id))).all()
    thread_of = {thread_key: conversation_id for thread_key, conversation_id in rows}
    latencies: list[float] = []
    missing: list[str] = []
    for post in posts:
        conversation_id = thread_of.get(post["id"])
        seen_at = listener.first_seen.get(conversation_id) if conversation_id is not None else None
        if seen_at is None:
            missing.append(post["id"])
        else:
            latencies.append((seen_at - float(post["at"])) * 1000)
    if missing:
        raise BenchFailure(
            f"{len(missing)} of {tweets} tweets never reached the console (e.g. {', '.join(missing[:5])})"
        )
    latencies.sort()
    span = float(status["finished_at"]) - float(status["started_at"])
    return LatencyResult(tweets, len(latencies), rate, tweets / span if span > 0 else 0.0, latencies)


# --- The run -----------------------------------------------------------------------------------------


@dataclass
class Report:
    database: str
    bus: str
    pipeline: PipelineResult
    latency: LatencyResult
    #: The 1-minute load average when the run started and when it ended: other work on the machine
    #: (a test suite, a build) competes with the benchmark for the same cores.
    load: tuple[float, float]


def xsim_env(credentials: XCredentials) -> dict[str, str]:
    return {
        "XSIM_CONSUMER_KEY": credentials.consumer_key,
        "XSIM_CONSUMER_SECRET": credentials.consumer_secret,
        "XSIM_BRAND_ACCESS_TOKEN": credentials.access_token,
        "XSIM_BRAND_ACCESS_TOKEN_SECRET": credentials.access_token_secret,
        "XSIM_APP_BEARER_TOKEN": credentials.bearer_token,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


async def run(args: argparse.Namespace, workspace: Workspace) -> Report:
    load_at_start = load_average()
    credentials = demo_x_credentials()
    xsim_port, haven_port = free_port(), free_port()
    xsim_url, haven_url = f"http://127.0.0.1:{xsim_port}", f"http://127.0.0.1:{haven_port}"
    xsim = workspace.start("xsim", ["-m", "xsim", "--port", str(xsim_port)], xsim_env(credentials))
    await xsim.wait_ready(f"{xsim_url}/_sim/state")
    bus = await redis_version(args.redis_url) if args.redis_url else "in-process event bus"

    with progress_bar() as progress:
        # 1. Pipeline throughput, on a database of its own.
        err.print("[bold]1/2[/] pipeline throughput: migrating a fresh database …")
        url = await workspace.new_database("pipeline")
        async with open_runtime(bench_settings(url, args.redis_url, haven_url)) as runtime:
            await seed(runtime, xsim_url, credentials, workspace.directory)
            database = await database_version(runtime)
            pipeline = await measure_pipeline(
                runtime, count=args.events, profile=args.profile, progress=progress
            )
        await workspace.drop_database(url)
        err.print(f"    {pipeline.events_per_second:,.0f} events/s")

        # 2. Latency, through xsim's stream and a real `haven serve`, on another fresh database.
        err.print("[bold]2/2[/] latency: starting haven serve on a fresh database …")
        url = await workspace.new_database("latency")
        async with open_runtime(bench_settings(url, args.redis_url, haven_url)) as runtime:
            demo = await seed(runtime, xsim_url, credentials, workspace.directory)
            async with runtime.database.unit_of_work() as session:
                account = (await session.scalars(select(ChannelAccount))).one()
                account.settings = STREAM_SETTINGS
            env = {
                "HAVEN_DATABASE_URL": url,
                "HAVEN_PUBLIC_BASE_URL": haven_url,
                "HAVEN_ENVIRONMENT": "test",
                "HAVEN_POLL_INTERVAL_SECONDS": "1",
                "HAVEN_LOG_LEVEL": "WARNING",
            }
            if args.redis_url:
                env["HAVEN_REDIS_URL"] = args.redis_url
            haven = workspace.start("haven", ["-m", "haven", "serve", "--port", str(haven_port)], env)
            await haven.wait_ready(f"{haven_url}/readyz")
            latency = await measure_latency(
                runtime,
                demo,
                xsim_url=xsim_url,
                haven_url=haven_url,
                haven=haven,
                tweets=round(args.rate * args.seconds),
                rate=args.rate,
                progress=progress,
            )
    return Report(database, bus, pipeline, latency, (load_at_start, load_average()))


def summary(report: Report, args: argparse.Namespace) -> None:
    pipeline, latency, work = report.pipeline, report.latency, report.pipeline.workload
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out.print("[bold]Haven ingest benchmark[/]")
    out.print(f"  machine    {affinity} usable of {os.cpu_count()} cores, {cpu_model()}")
    out.print(f"             {platform.system()} {platform.release()}, Python {platform.python_version()}")
    out.print(f"             load average {report.load[0]:.2f} at the start, {report.load[1]:.2f} at the end")
    out.print(f"  database   {report.database}; notices through {report.bus}")
    out.print(
        f"  pipeline   {pipeline.events:,} events: {work.threads:,} new threads, {work.replies:,} replies "
        f"into them, {work.retweets:,} retweets; {work.customers:,} customers"
    )
    out.print(
        f"             store {pipeline.store_seconds:.2f} s "
        f"({pipeline.events / pipeline.store_seconds:,.0f}/s), process {pipeline.process_seconds:.2f} s "
        f"({pipeline.events / pipeline.process_seconds:,.0f}/s): "
        f"[bold]{pipeline.events_per_second:,.0f} events/s[/] through the whole pipeline"
    )
    if pipeline.profile is not None:
        out.print("             (profiled: cProfile slows the pipeline down; compare unprofiled runs)")
    out.print(
        f"  latency    {latency.arrived:,} of {latency.tweets:,} tweets reached the console; posted at "
        f"{latency.achieved_rate:.1f}/s (asked {latency.rate:g}/s)"
    )
    out.print(
        f"             p50 {latency.at(0.50):.1f} ms, p90 {latency.at(0.90):.1f} ms, "
        f"p99 {latency.at(0.99):.1f} ms, max {latency.latencies_ms[-1]:.1f} ms"
    )
    if pipeline.profile is not None:
        err.print(pipeline.profile)
    print(
        f"events_per_s={pipeline.events_per_second:.0f} "
        f"p50_ms={latency.at(0.50):.1f} p99_ms={latency.at(0.99):.1f}",
        flush=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        help="postgresql+asyncpg://… server to create throwaway databases on (default: temporary SQLite)",
    )
    parser.add_argument("--redis-url", help="Redis for the event bus, as HAVEN_REDIS_URL (default: none)")
    parser.add_argument(
        "--events", type=int, default=20_000, help="events through the pipeline (%(default)s)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run (%(default)s)")
    parser.add_argument("--rate", type=float, default=250.0, help="tweets per second in it (%(default)s)")
    parser.add_argument("--profile", action="store_true", help="cProfile process_pending; print top costs")
    args = parser.parse_args(argv)
    if args.events < 1 or args.seconds <= 0 or args.rate <= 0:
        parser.error("--events, --seconds and --rate must be positive")
    if args.database_url is not None and not is_postgres(args.database_url):
        parser.error("--database-url must be a postgresql+asyncpg:// URL (SQLite is the default)")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def workspace_for(args: argparse.Namespace) -> Iterator[Workspace]:
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="haven-bench-")), args.database_url)
    try:
        yield workspace
    finally:
        workspace.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    with workspace_for(args) as workspace:
        try:
            report = asyncio.run(run(args, workspace))
        except BenchFailure as exc:
            for child in workspace.children:
                err.print(f"[dim]--- last lines of {child.name}'s log ---\n{escape(child.tail())}[/]")
            err.print(f"[bold red]benchmark failed:[/] {escape(str(exc))}")
            return 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted: stopping the servers and removing what the run made[/]")
            return 130
    summary(report, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
