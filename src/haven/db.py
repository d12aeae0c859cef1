"""Async engine, sessions and the unit of work.

A unit of work commits once, at the end, and only then hands the events that the commands queued
to the event bus: a console never hears of a row that was rolled back (rule 4 of the house).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from haven.realtime.bus import EventBus
    from haven.realtime.events import RealtimeEvent

log = logging.getLogger(__name__)

_PENDING_EVENTS = "haven.pending_events"


def create_engine(database_url: str) -> AsyncEngine:
    """Create the engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    # hide_parameters: SQL errors end up in logs, and their parameters would carry customers' words.
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(
        database_url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


def queue_event(session: AsyncSession, realtime_event: RealtimeEvent) -> None:
    """Queue an event to publish once the session's transaction commits."""
    session.info.setdefault(_PENDING_EVENTS, []).append(realtime_event)


def take_events(session: AsyncSession) -> list[RealtimeEvent]:
    events: list[RealtimeEvent] = session.info.pop(_PENDING_EVENTS, [])
    return events


class Database:
    """The engine, its session factory and the bus that hears about committed changes."""

    def __init__(self, engine: AsyncEngine, bus: EventBus) -> None:
        self.engine = engine
        self.bus = bus
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; commit at the end, then publish its events. Roll back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                take_events(session)
                raise
            for realtime_event in take_events(session):
                try:
                    await self.bus.publish(realtime_event)
                except Exception:
                    # The change is committed; a lost notice only delays a screen refresh, while an
                    # error here would make the caller believe (and retry) a write that succeeded.
                    log.exception("could not publish %s after commit", realtime_event.type)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """Yield a session for reads only; nothing is committed."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
