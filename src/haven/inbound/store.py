"""Storing raw inbound events and the cursor that says how far a stream was read.

Both are written in one transaction by the caller: the cursor can only move past events that were
committed (rule 3 of the house).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.x.parse import RawEvent
from haven.kit.clock import utcnow
from haven.kit.sql import insert_ignoring_duplicates
from haven.models import ChannelCursor, InboundEvent


async def store_raw_events(
    session: AsyncSession, channel_account_id: int, source: str, events: Sequence[RawEvent]
) -> None:
    now = utcnow()
    rows = [
        {
            "channel_account_id": channel_account_id,
            "source": source,
            "external_id": event.external_id,
            "payload": event.payload,
            "received_at": now,
            "attempts": 0,
            # A malformed item is kept for an operator to see but never processed.
            "outcome": f"malformed: {event.error}" if event.error else None,
            "processed_at": now if event.error else None,
        }
        for event in events
    ]
    await insert_ignoring_duplicates(session, InboundEvent, rows, ("channel_account_id", "external_id"))


async def read_cursor(session: AsyncSession, channel_account_id: int, stream: str) -> str | None:
    return await session.scalar(
        select(ChannelCursor.position).where(
            ChannelCursor.channel_account_id == channel_account_id, ChannelCursor.stream == stream
        )
    )


async def write_cursor(session: AsyncSession, channel_account_id: int, stream: str, position: str) -> None:
    cursor = await session.scalar(
        select(ChannelCursor).where(
            ChannelCursor.channel_account_id == channel_account_id, ChannelCursor.stream == stream
        )
    )
    if cursor is None:
        session.add(ChannelCursor(channel_account_id=channel_account_id, stream=stream, position=position))
    else:
        cursor.position = position
