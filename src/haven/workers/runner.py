"""Runs Haven's background loops: poll each X account, process inbound events, send the outbox.

The sender listens on the event bus for ``outbox.queued`` and wakes at once when an agent replies,
wherever the reply was made; its tick remains as a safety net and for retries that come due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from haven.channels.x.account import XClientPool
from haven.channels.x.client import XApiError
from haven.channels.x.poller import poll_mentions
from haven.inbound.pipeline import process_pending
from haven.models import ChannelAccount, ChannelKind
from haven.runtime import Runtime
from haven.workers.outbox import send_due

log = logging.getLogger(__name__)


class Workers:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._clients = XClientPool(runtime.cipher)
        self._outbox_wakeup = asyncio.Event()
        self._inbound_wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Accounts that X rate-limited, and when their window resets.
        self._poll_resume_at: dict[int, datetime] = {}

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
            asyncio.create_task(self._listen(), name="haven-outbox-listener"),
        ]

    async def _listen(self) -> None:
        with self._runtime.bus.subscribe() as subscription:
            async for event in subscription:
                if event.type == "outbox.queued":
                    self._outbox_wakeup.set()

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
        now = datetime.now(UTC)
        for account in accounts:
            if self._poll_resume_at.get(account.id, now) > now:
                continue
            try:
                result = await poll_mentions(
                    self._runtime.database, self._clients.client_for(account), account
                )
            except XApiError as exc:
                log.warning("polling mentions of account %s failed: %s", account.id, exc)
                if exc.status == 429:
                    self._poll_resume_at[account.id] = exc.retry_at
                continue
            except httpx.HTTPError as exc:
                log.warning("polling mentions of account %s failed: %s", account.id, type(exc).__name__)
                continue
            except Exception:
                log.exception("polling mentions of account %s failed", account.id)
                continue
            self._poll_resume_at.pop(account.id, None)
            if result.fetched:
                self._inbound_wakeup.set()

    async def _process_inbound(self) -> None:
        await process_pending(self._runtime.database)

    async def _send(self) -> None:
        while await send_due(self._runtime.database, self._clients):
            pass
