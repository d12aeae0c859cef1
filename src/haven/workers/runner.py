"""Runs Haven's background loops: poll each X account, process inbound events, send the outbox,
route queued conversations and watch SLA deadlines.

The sender listens on the event bus for ``outbox.queued`` and wakes at once when an agent replies,
wherever the reply was made; its tick remains as a safety net and for retries that come due.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from haven.channels.x.account import XClientPool
from haven.channels.x.client import XApiError, XClient
from haven.channels.x.poller import PollResult, poll_dms, poll_mentions, poll_search, search_cursor
from haven.channels.x.settings import account_settings
from haven.channels.x.stream import StreamOptions, StreamSupervisor
from haven.inbound.pipeline import process_pending
from haven.kit.clock import utcnow
from haven.models import ChannelAccount, ChannelKind
from haven.runtime import Runtime
from haven.triage.deadlines import record_breaches
from haven.triage.routing import assign_queued, requeue_unpicked
from haven.usage import service as usage
from haven.workers.outbox import OutboxTiming, send_due

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Poll:
    """One poll of one account: named for logs and rate-limit pauses, optionally paced."""

    name: str
    run: Callable[[], Awaitable[PollResult]]
    #: At most one successful run per this interval (None: every poll round).
    every: timedelta | None = None


class Workers:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._clients = XClientPool(runtime.cipher)
        self._outbox_wakeup = asyncio.Event()
        self._inbound_wakeup = asyncio.Event()
        self._routing_wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: (account, poll) pairs that X rate-limited or capped, and when to try again.
        self._poll_resume_at: dict[tuple[int, str], datetime] = {}
        #: One filtered-stream connection per X app with streaming accounts (channels/x/stream.py).
        self._stream = StreamSupervisor(
            runtime.database,
            runtime.cipher,
            StreamOptions.from_settings(runtime.settings),
            on_stored=self._inbound_wakeup.set,
        )

    def start(self) -> None:
        settings = self._runtime.settings
        self._tasks = [
            asyncio.create_task(
                self._loop("poll", self._poll_all, settings.poll_interval_seconds, None),
                name="haven-poll",
            ),
            asyncio.create_task(
                self._loop("inbound", self._process_inbound, 1.0, self._inbound_wakeup),
                name="haven-inbound",
            ),
            asyncio.create_task(
                self._loop("outbox", self._send, settings.outbox_interval_seconds, self._outbox_wakeup),
                name="haven-outbox",
            ),
            asyncio.create_task(
                self._loop(
                    "routing", self._route_and_watch, settings.routing_interval_seconds, self._routing_wakeup
                ),
                name="haven-routing",
            ),
            asyncio.create_task(self._listen(), name="haven-outbox-listener"),
            asyncio.create_task(self._stream.run(), name="haven-stream-supervisor"),
        ]

    async def _listen(self) -> None:
        with self._runtime.bus.subscribe() as subscription:
            async for event in subscription:
                if event.type == "outbox.queued":
                    self._outbox_wakeup.set()
                elif event.type == "inbound.stored":
                    self._inbound_wakeup.set()
                elif event.type == "agent.availability":
                    self._routing_wakeup.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._clients.aclose()

    async def _loop(
        self,
        name: str,
        step: Callable[[], Awaitable[None]],
        interval: float,
        wakeup: asyncio.Event | None,
    ) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker loop %s failed; continuing", name)
            if wakeup is None:
                await asyncio.sleep(interval)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=interval)
            wakeup.clear()

    async def _poll_all(self) -> None:
        async with self._runtime.database.reader() as session:
            accounts = (
                await session.scalars(
                    select(ChannelAccount).where(
                        ChannelAccount.active.is_(True), ChannelAccount.kind == ChannelKind.X
                    )
                )
            ).all()
        for account in accounts:
            client = self._clients.client_for(account)
            for poll in self._polls(account, client):
                await self._poll_one(account, poll)
        await self._flush_usage()

    def _polls(self, account: ChannelAccount, client: XClient) -> Iterator[_Poll]:
        """The polls the account's settings switch on."""
        database = self._runtime.database
        settings = account_settings(account)
        if settings.ingest.mentions:
            yield _Poll("mentions", functools.partial(poll_mentions, database, client, account))
        if settings.ingest.search:
            for query in settings.keyword_queries:
                run = functools.partial(poll_search, database, client, account, query)
                yield _Poll(f"search {search_cursor(query)}", run)
        if settings.ingest.dms:
            # X allows few DM reads per window (15 to 300 in 15 minutes by tier): pace them.
            every = timedelta(seconds=self._runtime.settings.dm_poll_interval_seconds)
            yield _Poll("dms", functools.partial(poll_dms, database, client, account), every)

    async def _poll_one(self, account: ChannelAccount, poll: _Poll) -> None:
        key = (account.id, poll.name)
        now = datetime.now(UTC)
        if self._poll_resume_at.get(key, now) > now:
            return
        try:
            result = await poll.run()
        except XApiError as exc:
            log.warning("polling %s of account %s failed: %s", poll.name, account.id, exc)
            if exc.status == 429 or exc.is_usage_cap:
                self._poll_resume_at[key] = exc.retry_at
            return
        except httpx.HTTPError as exc:
            log.warning("polling %s of account %s failed: %s", poll.name, account.id, type(exc).__name__)
            return
        except Exception:
            log.exception("polling %s of account %s failed", poll.name, account.id)
            return
        if poll.every is None:
            self._poll_resume_at.pop(key, None)
        else:
            self._poll_resume_at[key] = datetime.now(UTC) + poll.every
        if result.fetched:
            self._inbound_wakeup.set()

    async def _flush_usage(self) -> None:
        """Move every client's metered calls into the database (one small transaction)."""
        drained = self._clients.drain_usage()
        if drained:
            async with self._runtime.database.unit_of_work() as session:
                for account_id, counts in drained.items():
                    await usage.flush(session, account_id, counts)

    async def _process_inbound(self) -> None:
        await process_pending(self._runtime)

    async def _route_and_watch(self) -> None:
        """Re-queue unopened assignments, hand queued conversations out, record SLA breaches."""
        async with self._runtime.database.unit_of_work() as session:
            now = utcnow()
            await requeue_unpicked(session, now)
            await assign_queued(session)
            await record_breaches(session, now)

    async def _send(self) -> None:
        timing = OutboxTiming.from_settings(self._runtime.settings)
        while await send_due(self._runtime.database, self._clients, timing=timing):
            pass
        await self._flush_usage()
