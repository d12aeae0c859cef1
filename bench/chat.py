"""Chat relay benchmark: how fast a secure-chat message reaches the other participant, at scale.

A real ``haven serve`` (web and workers, as one instance runs) on a fresh database holds ``--chats``
live secure chats, each with its customer's socket (``/chat/ws``, the ``haven_chat`` cookie) and its
agent's socket (``/ws/chats/{id}``, a console session cookie) open, the way browsers hold them. In
every chat the agent and the customer take turns to write, one message per chat every
``--interval`` seconds on average (uniform jitter of ±50 %, so about ``chats / interval`` messages a
second in all). A message's latency is the time from its sender's socket sending it to the other
participant's socket receiving its ``event`` (matched by ``client_id``), over real sockets through
the real server.

The chats are seeded straight into the database through Haven's models (brand, agents with console
sessions from ``start_session``, contacts, conversations, spent invitations, chats whose customer
tokens the benchmark keeps, the brand's webchat account). The sockets live in ``--clients`` child
processes (each owns whole chats, so both ends of a message are timed on one clock), opened in
small batches evenly over ``--ramp-seconds`` (so that their periodic re-checks are spread as on a
server whose chats began at random times); then the relay runs ``--warmup`` seconds unmeasured and
``--duration`` seconds measured. Every message must reach the other side exactly once.

The last line of the output is machine-readable: ``chats=<n> p50_ms=<n> p99_ms=<n>``.

Usage::

    .venv/bin/python bench/chat.py
    .venv/bin/python bench/chat.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/0

With a PostgreSQL URL, a throwaway database is created on that server and dropped at the end; the
database the URL names is only used to create and drop it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

from rich.markup import escape
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Origin

from haven.channels.webchat.account import webchat_account
from haven.handoff.chat import CHAT_COOKIE
from haven.kit.clock import utcnow
from haven.models import (
    Agent,
    Brand,
    ChannelAccount,
    ChannelKind,
    Chat,
    ChatInvitation,
    Contact,
    ContactIdentity,
    Conversation,
    InvitationStatus,
    Message,
    Role,
    VerificationMethod,
)
from haven.runtime import Runtime
from haven.security.secrets import new_token, token_hash
from haven.security.sessions import SESSION_COOKIE, start_session
from ingest import (
    BenchFailure,
    Child,
    Workspace,
    bench_settings,
    cpu_model,
    database_version,
    err,
    free_port,
    is_postgres,
    load_average,
    open_runtime,
    out,
    percentile,
    progress_bar,
    redis_version,
    workspace_for,
)

#: How many live chats one agent holds (each in a socket of its own, one console session).
CHATS_PER_AGENT = 4
#: How long an unmeasured relay runs first, so that cold caches and first queries are not measured.
WARMUP_SECONDS = 10.0
#: How long to wait, after the last message, for every message to reach the other side.
DRAIN_SECONDS = 15.0
#: Sockets opened at once while ramping up (each batch is awaited before the next one starts).
RAMP_BATCH = 20
#: Over how long the sockets are opened. A socket re-checks its holder every 30 s from when it opened
#: (``chat_ws.RECHECK_SECONDS``): opened over one such period, the re-checks spread evenly, as on a
#: server whose chats began at random times. Opened faster, they come in waves (as after a restart).
RAMP_SECONDS = 30.0
#: The aim: the p99 latency at 1,000 chats on one instance on a 2-core machine.
AIM_P99_MS = 30.0
AIM_CHATS = 1000
TEXTS = (
    "Hello, it is about the double charge on my card",
    "I can see two payments of 42.10 to the same shop on Tuesday",
    "Thanks for checking. Is the second one going to be refunded?",
    "Could you confirm the last four digits of the card, please?",
    "It ends in 4417, the debit card",
    "I have raised a dispute; the money should be back within five working days",
    "Great, and will I get an e-mail when it is done?",
    "Yes, and you will see it in the app under Disputes",
    "One more thing: can I raise my daily transfer limit while we are here?",
    "Of course. What limit would you like?",
)


# --- Seeding -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seat:
    """What the two browsers of one chat hold: the chat's id and both sides' cookies."""

    chat_id: int
    customer_token: str
    agent_token: str


async def seed_chats(runtime: Runtime, count: int) -> list[Seat]:
    """``count`` live chats of one brand, batched: one flush per table, one transaction in all."""
    now = utcnow()
    agents_needed = math.ceil(count / CHATS_PER_AGENT)
    async with runtime.database.unit_of_work() as session:
        brand = Brand(slug="bench-bank", name="Bench Bank", public_web_url="https://bank.example")
        session.add(brand)
        await session.flush()
        # The X account the conversations came in on. Inactive, so that the workers do not poll it.
        x_account = ChannelAccount(
            brand_id=brand.id,
            kind=ChannelKind.X,
            handle="BenchBankHelp",
            external_user_id="1600000000000000000",
            api_base_url="http://127.0.0.1:9",
            credentials_encrypted="",
            settings={},
            active=False,
        )
        session.add(x_account)
        await webchat_account(session, brand.id)
        agents = [
            Agent(
                brand_id=brand.id,
                email=f"agent{n}@bank.example",
                display_name=f"Agent {n}",
                password_hash="!",  # signs in by session cookie only
                role=Role.AGENT,
            )
            for n in range(agents_needed)
        ]
        session.add_all(agents)
        await session.flush()
        agent_tokens = [await start_session(session, agent, timedelta(hours=12)) for agent in agents]
        contacts = [Contact(brand_id=brand.id, display_name=f"Customer {n}") for n in range(count)]
        session.add_all(contacts)
        await session.flush()
        x_user_ids = [str(1_700_000_000_000_000_000 + n) for n in range(count)]
        session.add_all(
            ContactIdentity(
                brand_id=brand.id,
                contact_id=contact.id,
                channel_kind=ChannelKind.X,
                external_id=x_user_id,
                handle=f"cust{n}",
                display_name=contact.display_name,
            )
            for n, (contact, x_user_id) in enumerate(zip(contacts, x_user_ids, strict=True))
        )
        owner = [agents[n // CHATS_PER_AGENT] for n in range(count)]
        conversations = [
            Conversation(
                brand_id=brand.id,
                channel_account_id=x_account.id,
                contact_id=contact.id,
                # The agent who moved it to the secure chat owns it (as after their first reply).
                assignee_id=owner[n].id,
                thread_key=str(1_900_000_000_000_000_000 + n),
                preview="@BenchBankHelp my card was charged twice",
                last_message_at=now,
            )
            for n, contact in enumerate(contacts)
        ]
        session.add_all(conversations)
        await session.flush()
        invitations = [
            ChatInvitation(
                brand_id=brand.id,
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                x_user_id=x_user_ids[n],
                token_hash=token_hash(new_token()),
                created_by_agent_id=owner[n].id,
                status=InvitationStatus.USED,
                created_at=now,
                expires_at=now + timedelta(minutes=30),
                used_at=now,
            )
            for n, conversation in enumerate(conversations)
        ]
        session.add_all(invitations)
        await session.flush()
        customer_tokens = [new_token(nbytes=32) for _ in range(count)]
        chats = [
            Chat(
                brand_id=brand.id,
                conversation_id=invitation.conversation_id,
                invitation_id=invitation.id,
                contact_id=invitation.contact_id,
                customer_token_hash=token_hash(customer_tokens[n]),
                verified_by=VerificationMethod.ONE_TIME_CODE,
                directory_customer_id=f"C-{n}",
                started_at=now,
            )
            for n, invitation in enumerate(invitations)
        ]
        session.add_all(chats)
        await session.flush()
        return [
            Seat(chat.id, customer_tokens[n], agent_tokens[n // CHATS_PER_AGENT])
            for n, chat in enumerate(chats)
        ]


# --- The client processes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    haven_url: str
    interval: float
    warmup: float
    duration: float
    ramp: int
    ramp_seconds: float
    seed: int


@dataclass
class ClientResult:
    """What one client process saw; latencies only for messages sent in the measured window."""

    latencies_ms: list[float] = field(default_factory=list)
    #: (seconds into the measured window when sent, latency in ms), to see how latency evolves.
    timeline: list[tuple[float, float]] = field(default_factory=list)
    #: From sending to the sender's own socket hearing the event back (its acknowledgement).
    echo_ms: list[float] = field(default_factory=list)
    sent: int = 0
    measured: int = 0
    delivered: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: int = 0
    errors: list[str] = field(default_factory=list)
    #: Sockets the server closed (or that failed) before the benchmark closed them.
    closed: list[str] = field(default_factory=list)
    #: CPU seconds (user + system) this process used in the measured window.
    cpu_seconds: float = 0.0
    #: How late the client's event loop woke a 50 ms timer, in the measured window: a busy client
    #: inflates the latencies it measures.
    lag_ms: list[float] = field(default_factory=list)


class Relay:
    """The sockets of one client process and what they sent and heard."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.result = ClientResult()
        #: client_id → (when sent, measured?)
        self.sent_at: dict[str, tuple[float, bool]] = {}
        self.delivered: set[str] = set()
        self.echoed: set[str] = set()
        self.sockets: dict[tuple[int, str], ClientConnection] = {}
        self.last_seq: dict[tuple[int, str], int] = {}
        self.listeners: list[asyncio.Task[None]] = []
        self.closing = False
        self.all_delivered = asyncio.Event()
        #: When the measured window starts (perf_counter), once the run began.
        self.warm_end = 0.0

    async def open(self, seat: Seat, side: str) -> None:
        base = self.plan.haven_url.replace("http://", "ws://", 1)
        if side == "customer":
            url, cookie = f"{base}/chat/ws?chat={seat.chat_id}", f"{CHAT_COOKIE}={seat.customer_token}"
        else:
            url, cookie = f"{base}/ws/chats/{seat.chat_id}", f"{SESSION_COOKIE}={seat.agent_token}"
        # As a browser: this site's Origin, the cookie, permessage-deflate (browsers offer it).
        socket = await websocket_connect(
            url,
            origin=Origin(self.plan.haven_url),
            additional_headers={"Cookie": cookie},
            proxy=None,
            max_queue=None,
            open_timeout=60,
        )
        hello = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        if hello.get("type") != "hello" or hello.get("chat_id") != seat.chat_id:
            raise BenchFailure(f"chat {seat.chat_id}: the {side} socket said {hello!r} instead of hello")
        self.sockets[(seat.chat_id, side)] = socket
        self.listeners.append(asyncio.create_task(self.listen(socket, seat.chat_id, side)))

    async def listen(self, socket: ClientConnection, chat_id: int, side: str) -> None:
        result = self.result
        key = (chat_id, side)
        try:
            async for raw in socket:
                now = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "error":
                    result.errors.append(f"chat {chat_id} ({side}): {frame.get('detail')}")
                    continue
                if kind != "event":
                    continue
                seq = int(frame["seq"])
                if seq <= self.last_seq.get(key, 0):
                    result.doubled += 1
                    continue
                self.last_seq[key] = seq
                client_id = frame.get("client_id")
                if client_id not in self.sent_at:
                    continue
                sent, measured = self.sent_at[client_id]
                if frame.get("side") == side:
                    if client_id in self.echoed:
                        result.doubled += 1
                    else:
                        self.echoed.add(client_id)
                        if measured:
                            result.echo_ms.append((now - sent) * 1000)
                elif client_id in self.delivered:
                    result.doubled += 1
                else:
                    self.delivered.add(client_id)
                    if measured:
                        result.latencies_ms.append((now - sent) * 1000)
                        result.timeline.append((sent - self.warm_end, (now - sent) * 1000))
                    if self.closing and len(self.delivered) == len(self.sent_at):
                        self.all_delivered.set()
        except ConnectionClosed as exc:
            if not self.closing:
                result.closed.append(f"chat {chat_id} ({side}): {exc}")
            return
        if not self.closing:
            result.closed.append(f"chat {chat_id} ({side}): closed by the server ({socket.close_reason!r})")

    async def talk(self, seat: Seat, start: float, warm_end: float, end: float) -> None:
        """One chat's turns: the two sides alternate, one message per ``interval`` on average."""
        rng = random.Random(self.plan.seed * 1_000_003 + seat.chat_id)
        interval = self.plan.interval
        at = start + rng.uniform(0, interval)
        side = rng.choice(("customer", "agent"))
        n = 0
        while at < end:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            client_id = f"{side[0]}{seat.chat_id}-{n}"
            text = f"{rng.choice(TEXTS)} ({n})"
            payload = json.dumps({"type": "message", "text": text, "client_id": client_id})
            now = time.perf_counter()
            self.sent_at[client_id] = (now, warm_end <= now < end)
            self.result.sent += 1
            try:
                await self.sockets[(seat.chat_id, side)].send(payload)
            except ConnectionClosed as exc:
                self.result.errors.append(f"chat {seat.chat_id} ({side}): could not send: {exc}")
                return
            n += 1
            side = "agent" if side == "customer" else "customer"
            at += interval * rng.uniform(0.5, 1.5)

    async def tick(self, warm_end: float, end: float) -> None:
        """Measures how late the event loop wakes a timer (the client's own delay)."""
        step = 0.05
        while (now := time.perf_counter()) < end:
            await asyncio.sleep(step)
            late = time.perf_counter() - now - step
            if now >= warm_end:
                self.result.lag_ms.append(late * 1000)

    async def close(self) -> None:
        self.closing = True
        sockets = list(self.sockets.values())
        for start in range(0, len(sockets), self.plan.ramp):
            batch = sockets[start : start + self.plan.ramp]
            await asyncio.gather(*(socket.close() for socket in batch), return_exceptions=True)


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))


async def _client(conn: Connection, seats: list[Seat], plan: Plan) -> None:
    relay = Relay(plan)
    opened = 0
    try:
        step = max(1, plan.ramp // 2)
        batches = math.ceil(len(seats) / step)
        began = time.perf_counter()
        for number, first in enumerate(range(0, len(seats), step)):
            await _sleep_until(began + plan.ramp_seconds * number / batches)
            batch = seats[first : first + step]
            await asyncio.gather(
                *(relay.open(seat, side) for seat in batch for side in ("customer", "agent"))
            )
            opened += 2 * len(batch)
            conn.send(("opened", opened))
    except (OSError, TimeoutError, WebSocketException, BenchFailure) as exc:
        conn.send(("failed", f"could not open socket {opened + 1}: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", opened))
    message = await asyncio.to_thread(conn.recv)
    start_wall = float(message[1])
    start = time.perf_counter() + (start_wall - time.time())
    warm_end = start + plan.warmup
    end = warm_end + plan.duration
    relay.warm_end = warm_end
    ticker = asyncio.create_task(relay.tick(warm_end, end))
    talkers = [asyncio.create_task(relay.talk(seat, start, warm_end, end)) for seat in seats]
    await _sleep_until(warm_end)
    cpu_at_start = sum(os.times()[:2])
    await _sleep_until(end)
    relay.result.cpu_seconds = sum(os.times()[:2]) - cpu_at_start
    await asyncio.gather(*talkers)
    await ticker
    relay.closing = True
    if len(relay.delivered) < len(relay.sent_at):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(relay.all_delivered.wait(), timeout=DRAIN_SECONDS)
    # Let stray duplicates (if any) arrive before counting, then close the sockets.
    await asyncio.sleep(0.5)
    relay.result.delivered = len(relay.delivered)
    relay.result.measured = sum(1 for _, measured in relay.sent_at.values() if measured)
    relay.result.lost = [cid for cid in relay.sent_at if cid not in relay.delivered]
    await relay.close()
    conn.send(("result", relay.result))


def client_process(conn: Connection, seats: list[Seat], plan: Plan) -> None:
    """A child process: opens its chats' sockets, says ready, relays on "go", sends its result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    try:
        import uvloop  # only the client processes want it

        uvloop.run(_client(conn, seats, plan))
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


# --- CPU accounting ----------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (Linux), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (Linux), or NaNs."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return float("nan"), float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


@dataclass
class CpuSample:
    server: float
    busy: float
    total: float

    @classmethod
    def take(cls, server_pid: int) -> CpuSample:
        busy, total = machine_cpu_seconds()
        return cls(process_cpu_seconds(server_pid), busy, total)


# --- The run -----------------------------------------------------------------------------------------


@dataclass
class Report:
    chats: int
    clients: int
    database: str
    bus: str
    seed_seconds: float
    connect_seconds: float
    results: list[ClientResult]
    stored: int
    wall_seconds: float
    #: CPU in the measured window, as a share of one core: the server, the clients, the machine.
    server_cpu: float
    clients_cpu: float
    machine_cpu: float
    machine_cores: float
    load: tuple[float, float]
    profile: str | None

    def merged(self, name: str) -> list[float]:
        values: list[float] = []
        for result in self.results:
            values.extend(getattr(result, name))
        return sorted(values)

    def total(self, name: str) -> int:
        return sum(int(getattr(result, name)) for result in self.results)

    @property
    def lost(self) -> list[str]:
        return [cid for result in self.results for cid in result.lost]

    @property
    def errors(self) -> list[str]:
        return [e for result in self.results for e in result.errors + result.closed]


def raise_file_limit(sockets: int) -> None:
    """Both ends of every socket live on this machine: make room for them (inherited by children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 1000
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        if limit < wanted:
            err.print(f"[yellow]only {limit} open files allowed; {wanted} wanted[/]")


async def _pipe_messages(conn: Connection, index: int, queue: asyncio.Queue[tuple[int, Any]]) -> None:
    while True:
        try:
            message = await asyncio.to_thread(conn.recv)
        except (EOFError, OSError):
            await queue.put((index, ("eof", None)))
            return
        await queue.put((index, message))


async def _next_message(
    queue: asyncio.Queue[tuple[int, Any]], haven: Child, *, within: float, finished: set[int]
) -> tuple[int, tuple[str, Any]]:
    """The next message of a client; ``finished`` are those that sent their result (and then exit)."""
    deadline = time.monotonic() + within
    while True:
        if not haven.alive():
            raise BenchFailure("haven serve exited during the run")
        with contextlib.suppress(TimeoutError):
            index, message = await asyncio.wait_for(queue.get(), timeout=0.5)
            if message[0] == "failed":
                raise BenchFailure(f"client {index}: {message[1]}")
            if message[0] == "eof":
                if index in finished:
                    continue
                raise BenchFailure(f"client {index} exited without a result")
            return index, message
        if time.monotonic() > deadline:
            raise BenchFailure(f"the clients did not answer within {within:.0f} s")


def start_py_spy(pid: int, output: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(executable).exists():
        err.print("[yellow]py-spy is not installed (.venv/bin/pip install py-spy); not profiling[/]")
        return None
    fmt = {".json": "speedscope", ".txt": "raw"}.get(output.suffix, "flamegraph")
    command = [executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    command += ["--rate", "250", "--format", fmt, "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def run(args: argparse.Namespace, workspace: Workspace) -> Report:
    load_at_start = load_average()
    raise_file_limit(4 * args.chats)
    port = args.port or free_port()
    haven_url = f"http://127.0.0.1:{port}"
    bus = await redis_version(args.redis_url) if args.redis_url else "in-process event bus"

    err.print(f"[bold]1/3[/] seeding {args.chats:,} live chats in a fresh database …")
    url = await workspace.new_database("chat")
    async with open_runtime(bench_settings(url, None, haven_url)) as runtime:
        database = await database_version(runtime)
        started = time.perf_counter()
        seats = await seed_chats(runtime, args.chats)
        seed_seconds = time.perf_counter() - started
        err.print(f"    seeded in {seed_seconds:.1f} s")

        env = {
            "HAVEN_DATABASE_URL": url,
            "HAVEN_PUBLIC_BASE_URL": haven_url,
            "HAVEN_ENVIRONMENT": "test",
            "HAVEN_LOG_LEVEL": "WARNING",
        }
        if args.redis_url:
            env["HAVEN_REDIS_URL"] = args.redis_url
        haven = workspace.start("haven", ["-m", "haven", "serve", "--port", str(port)], env)
        await haven.wait_ready(f"{haven_url}/readyz")

        err.print(f"[bold]2/3[/] opening {2 * args.chats:,} sockets from {args.clients} client process(es) …")
        plan = Plan(
            haven_url, args.interval, args.warmup, args.duration, args.ramp, args.ramp_seconds, seed=2026
        )
        context = multiprocessing.get_context("spawn")
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        pipes: list[Connection] = []
        processes: list[multiprocessing.process.BaseProcess] = []
        readers: list[asyncio.Task[None]] = []
        finished: set[int] = set()  # clients that sent their result
        spy: subprocess.Popen[bytes] | None = None
        try:
            for index in range(args.clients):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=client_process,
                    args=(theirs, seats[index :: args.clients], plan),
                    name=f"chat-client-{index}",
                    daemon=True,
                )
                process.start()
                theirs.close()
                pipes.append(ours)
                processes.append(process)
                readers.append(asyncio.create_task(_pipe_messages(ours, index, queue)))
            connect_started = time.perf_counter()
            with progress_bar() as progress:
                task = progress.add_task("sockets open", total=2 * args.chats)
                opened = [0] * args.clients
                ready = 0
                while ready < args.clients:
                    index, message = await _next_message(queue, haven, within=300, finished=set())
                    if message[0] in {"opened", "ready"}:
                        opened[index] = int(message[1])
                        progress.update(task, completed=sum(opened))
                    ready += message[0] == "ready"
            connect_seconds = time.perf_counter() - connect_started
            err.print(f"    {sum(opened):,} sockets open in {connect_seconds:.1f} s")

            err.print(
                f"[bold]3/3[/] relaying: {args.warmup:g} s warm-up, then {args.duration:g} s measured, "
                f"one message per chat every {args.interval:g} s on average …"
            )
            start_wall = time.time() + 1.0
            for pipe in pipes:
                pipe.send(("go", start_wall))
            warm_end_wall = start_wall + args.warmup
            end_wall = warm_end_wall + args.duration
            with progress_bar() as progress:
                task = progress.add_task("relaying", total=round(end_wall - time.time()))
                first = time.time()
                while time.time() < warm_end_wall:
                    if not haven.alive():
                        raise BenchFailure("haven serve exited during the run")
                    progress.update(task, completed=round(time.time() - first))
                    await asyncio.sleep(min(0.25, max(0.0, warm_end_wall - time.time())))
                before = CpuSample.take(haven.process.pid)
                spy = start_py_spy(haven.process.pid, args.py_spy, args.duration) if args.py_spy else None
                while time.time() < end_wall:
                    if not haven.alive():
                        raise BenchFailure("haven serve exited during the run")
                    progress.update(task, completed=round(time.time() - first))
                    await asyncio.sleep(min(0.25, max(0.0, end_wall - time.time())))
                after = CpuSample.take(haven.process.pid)
            err.print("    waiting for the last messages to arrive …")
            results: list[ClientResult | None] = [None] * args.clients
            while len(finished) < args.clients:
                index, message = await _next_message(
                    queue, haven, within=DRAIN_SECONDS + 120, finished=finished
                )
                if message[0] == "result":
                    results[index] = message[1]
                    finished.add(index)
            profile = None
            if spy is not None:
                _, spy_err = await asyncio.to_thread(spy.communicate)
                if spy.returncode == 0:
                    profile = str(args.py_spy)
                else:
                    err.print(f"[yellow]py-spy failed: {escape(spy_err.decode(errors='replace')[-500:])}[/]")
        finally:
            if spy is not None and spy.poll() is None:
                spy.terminate()
            for reader in readers:
                reader.cancel()
            for child_process in processes:
                # After their results they exit by themselves; otherwise (a failure) stop them now.
                child_process.join(timeout=10 if len(finished) == len(processes) else 0)
                if child_process.is_alive():
                    child_process.terminate()
                    child_process.join()
            for pipe in pipes:
                pipe.close()

        async with runtime.database.reader() as session:
            stored = await session.scalar(
                select(func.count()).select_from(Message).where(Message.chat_id.is_not(None))
            )
    wall = after.total - before.total
    cores = os.cpu_count() or 1
    span = args.duration
    done = [r for r in results if r is not None]
    return Report(
        chats=args.chats,
        clients=args.clients,
        database=database,
        bus=bus,
        seed_seconds=seed_seconds,
        connect_seconds=connect_seconds,
        results=done,
        stored=int(stored or 0),
        wall_seconds=span,
        server_cpu=(after.server - before.server) / span,
        clients_cpu=sum(r.cpu_seconds for r in done) / span,
        machine_cpu=(after.busy - before.busy) / wall * cores if wall > 0 else float("nan"),
        machine_cores=cores,
        load=(load_at_start, load_average()),
        profile=profile,
    )


def summary(report: Report, args: argparse.Namespace) -> bool:
    """Print the figures; True when every message arrived exactly once and nothing failed."""
    latencies, echoes, lags = report.merged("latencies_ms"), report.merged("echo_ms"), report.merged("lag_ms")
    sent, measured = report.total("sent"), report.total("measured")
    delivered, doubled = report.total("delivered"), report.total("doubled")
    lost, errors = report.lost, report.errors
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out.print("[bold]Haven chat relay benchmark[/]")
    out.print(f"  machine    {affinity} usable of {os.cpu_count()} cores, {cpu_model()}")
    out.print(f"             {platform.system()} {platform.release()}, Python {platform.python_version()}")
    out.print(f"             load average {report.load[0]:.2f} at the start, {report.load[1]:.2f} at the end")
    out.print(f"  database   {report.database}; chat notices through {report.bus}")
    out.print(
        f"  chats      {report.chats:,} live chats, {2 * report.chats:,} sockets from {report.clients} "
        f"client process(es); seeded in {report.seed_seconds:.1f} s, sockets opened in "
        f"{report.connect_seconds:.1f} s"
    )
    out.print(
        f"  relay      one message per chat every {args.interval:g} s on average (±50 %), "
        f"{args.warmup:g} s warm-up, {args.duration:g} s measured"
    )
    out.print(
        f"  messages   {measured:,} measured ({measured / report.wall_seconds:,.1f}/s); {sent:,} sent in "
        f"all, {delivered:,} reached the other side, {report.stored:,} stored"
    )
    out.print(f"             lost {len(lost)}, doubled {doubled}, errors {len(errors)}")
    if latencies:
        out.print(
            f"  latency    sender → other side: p50 {percentile(latencies, 0.50):.1f} ms, "
            f"p90 {percentile(latencies, 0.90):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
            f"max {latencies[-1]:.1f} ms"
        )
    if echoes:
        out.print(
            f"             sender → its own echo: p50 {percentile(echoes, 0.50):.1f} ms, "
            f"p99 {percentile(echoes, 0.99):.1f} ms"
        )
    out.print(
        f"  cpu        haven serve {report.server_cpu:.0%} of a core, clients {report.clients_cpu:.0%}, "
        f"machine {report.machine_cpu:.0%} of {report.machine_cores:g} cores "
        f"(the rest: the database, Redis, other work)"
    )
    if lags:
        out.print(
            f"             client timer lateness p50 {percentile(lags, 0.50):.1f} ms, "
            f"p99 {percentile(lags, 0.99):.1f} ms, max {lags[-1]:.1f} ms"
        )
    timeline = sorted(point for result in report.results for point in result.timeline)
    if timeline:
        err.print("  latency over the measured window (by when sent):")
        step = max(1.0, args.duration / 10)
        for first in range(math.ceil(args.duration / step)):
            window = sorted(ms for at, ms in timeline if first * step <= at < (first + 1) * step)
            if window:
                err.print(
                    f"    {first * step:5.0f}–{(first + 1) * step:<4.0f} s  {len(window):5,} messages  "
                    f"p50 {percentile(window, 0.5):8.1f} ms  p99 {percentile(window, 0.99):8.1f} ms"
                )
    if report.profile:
        out.print(f"  profile    py-spy of haven serve over the measured window: {report.profile}")
    p50 = percentile(latencies, 0.50) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    if report.chats >= AIM_CHATS:
        verdict = "met" if p99 <= AIM_P99_MS else "missed"
        out.print(f"  aim        p99 ≤ {AIM_P99_MS:g} ms at {AIM_CHATS:,} chats: {verdict}")
    if lost:
        err.print(f"[red]lost, e.g.: {escape(', '.join(lost[:10]))}[/]")
    kinds = Counter(re.sub(r"^chat \d+ \((\w+)\): ", r"\1: ", line) for line in errors)
    for kind, count in kinds.most_common(8):
        err.print(f"[red]{count} × {escape(kind)}[/]")
    ok = not lost and not doubled and not errors and report.stored == sent and bool(latencies)
    if not ok:
        err.print("[bold red]benchmark failed:[/] every message must reach the other side exactly once")
    print(f"chats={report.chats} p50_ms={p50:.1f} p99_ms={p99:.1f}", flush=True)
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        help="postgresql+asyncpg://… server to create a throwaway database on (default: temporary SQLite)",
    )
    parser.add_argument("--redis-url", help="Redis for the event bus, as HAVEN_REDIS_URL (default: none)")
    parser.add_argument("--chats", type=int, default=1000, help="live chats, two sockets each (%(default)s)")
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        help="mean seconds between two messages of a chat (%(default)s)",
    )
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds (%(default)s)")
    parser.add_argument(
        "--warmup", type=float, default=WARMUP_SECONDS, help="unmeasured seconds first (%(default)s)"
    )
    parser.add_argument("--port", type=int, help="port for haven serve (default: a free one)")
    parser.add_argument("--clients", type=int, default=1, help="client processes (%(default)s)")
    parser.add_argument("--ramp", type=int, default=RAMP_BATCH, help="sockets opened at once (%(default)s)")
    parser.add_argument(
        "--ramp-seconds",
        type=float,
        default=RAMP_SECONDS,
        help="open the sockets evenly over this long (%(default)s; 0: as fast as the server takes them)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="record haven serve with py-spy over the measured window "
        "(.svg: flame graph, .json: speedscope, .txt: collapsed stacks)",
    )
    args = parser.parse_args(argv)
    if args.chats < 1 or args.interval <= 0 or args.duration <= 0 or args.warmup < 0:
        parser.error("--chats, --interval and --duration must be positive, --warmup not negative")
    if args.clients < 1 or args.clients > args.chats or args.ramp < 2 or args.ramp_seconds < 0:
        parser.error("--clients must be between 1 and --chats, --ramp at least 2, --ramp-seconds >= 0")
    if args.database_url is not None and not is_postgres(args.database_url):
        parser.error("--database-url must be a postgresql+asyncpg:// URL (SQLite is the default)")
    if args.interval < 2 / 5:
        parser.error("--interval below 0.4 s exceeds a socket's allowance (5 messages a second)")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with _interruptible(), workspace_for(args) as workspace:
        try:
            report = asyncio.run(run(args, workspace))
        except BenchFailure as exc:
            _log_tails(workspace)
            err.print(f"[bold red]benchmark failed:[/] {escape(str(exc))}")
            return 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted: stopping the servers and removing what the run made[/]")
            return 130
        if summary(report, args):
            return 0
        _log_tails(workspace)
        return 1


def _log_tails(workspace: Workspace) -> None:
    for child in workspace.children:
        err.print(f"[dim]--- last lines of {child.name}'s log ---\n{escape(child.tail())}[/]")


if __name__ == "__main__":
    sys.exit(main())
