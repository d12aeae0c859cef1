"""Polling X: the brand's mentions, keyword searches, and DMs, the way the contract prescribes.

Mentions and search: remember the ``newest_id`` of the first page, follow ``next_token`` to the end,
store every tweet as a raw event, and only then — in the same transaction — move the cursor. A crash
at any point re-reads from the old cursor, and the unique (account, external id) key makes the
re-read harmless.

DMs have no ``since_id``: pages come newest first, and reading stops at the first page that reaches
an id already seen (ids only grow). Every event is stored by id, so an overlap costs nothing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from haven.channels.x.client import XApiError, XClient
from haven.channels.x.parse import Page, RawEvent, split_dm_page, split_page
from haven.channels.x.settings import search_query
from haven.db import Database
from haven.inbound.store import read_cursor, store_raw_events, write_cursor
from haven.models import ChannelAccount

MENTIONS = "mentions"
#: X serves only the newest 800 mentions, a window that moves while a walk pages through it: a
#: backlog that outgrows it (an outage, a burst faster than polling) hides its oldest part from the
#: mentions timeline. Recent search, seven days deep, still finds them (see ``_beyond_reach``).
#: What one page of a walk holds.
PAGE_SIZE = 100
#: Gap-filling search pages at most (100 posts each).
MAX_GAP_PAGES = 100
SEARCH = "search"
DMS = "dms"
#: A safety stop: X only serves the 800 newest mentions, i.e. at most 8 pages of 100.
MAX_PAGES = 10


@dataclass(frozen=True, slots=True)
class PollResult:
    fetched: int
    cursor: str | None


FetchPage = Callable[[str | None, str | None], Awaitable[dict[str, Any]]]

#: Pauses before trying a page again after a transient failure (5xx, a dropped connection). A walk
#: through many pages must not start over for one hiccup: X only serves the 800 newest mentions,
#: so a walk abandoned too often can fall behind a busy account for good.
PAGE_RETRY_DELAYS = (0.2, 0.5, 1.0)


def _transient(exc: Exception) -> bool:
    if isinstance(exc, XApiError):
        return exc.status >= 500 or exc.status == 408
    return isinstance(exc, httpx.TransportError)


async def _page(fetch: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    for delay in PAGE_RETRY_DELAYS:
        try:
            return await fetch()
        except (XApiError, httpx.TransportError) as exc:
            if not _transient(exc):
                raise
            await asyncio.sleep(delay)
    return await fetch()


async def _walk(fetch: FetchPage, since_id: str | None) -> tuple[list[RawEvent], str | None]:
    """Every page after ``since_id``, newest first, and the ``newest_id`` of the first page."""
    events: list[RawEvent] = []
    newest_id: str | None = None
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = split_page(await _page(functools.partial(fetch, since_id, token)))
        events.extend(page.events)
        newest_id = newest_id or page.newest_id
        token = page.next_token
        if token is None:
            break
    return events, newest_id


async def _poll_since(
    database: Database, account: ChannelAccount, *, source: str, cursor_name: str, fetch: FetchPage
) -> PollResult:
    async with database.reader() as session:
        since_id = await read_cursor(session, account.id, cursor_name)
    events, newest_id = await _walk(fetch, since_id)
    return await _store(database, account, source, cursor_name, events, newest_id, since_id)


async def _store(
    database: Database,
    account: ChannelAccount,
    source: str,
    cursor_name: str,
    events: list[RawEvent],
    newest_id: str | None,
    old_cursor: str | None,
) -> PollResult:
    if not events:
        return PollResult(fetched=0, cursor=old_cursor)
    # X serves newest first; store oldest first so that a thread's root is processed before its replies.
    events.reverse()
    async with database.unit_of_work() as session:
        await store_raw_events(session, account.id, source, events)
        if newest_id is not None and newest_id != old_cursor:
            await write_cursor(session, account.id, cursor_name, newest_id)
    return PollResult(fetched=len(events), cursor=newest_id or old_cursor)


async def poll_mentions(database: Database, client: XClient, account: ChannelAccount) -> PollResult:
    async def fetch(since_id: str | None, token: str | None) -> dict[str, Any]:
        return await client.mentions(account.external_user_id, since_id=since_id, pagination_token=token)

    async with database.reader() as session:
        since_id = await read_cursor(session, account.id, MENTIONS)
    events, newest_id = await _walk(fetch, since_id)
    ids = [int(e.external_id) for e in events if e.external_id.isdigit()]
    # One page holds everything new: the backlog was far inside the window. Past that, look.
    if since_id is not None and len(events) > PAGE_SIZE and ids:
        # Found before the cursor moves: if this fails, the next poll tries again from the old cursor.
        events += await _beyond_reach(client, account, since_id, str(min(ids)))
    return await _store(database, account, MENTIONS, MENTIONS, events, newest_id, since_id)


async def _beyond_reach(
    client: XClient, account: ChannelAccount, since_id: str, oldest_seen: str
) -> list[RawEvent]:
    """Mentions between the cursor and the oldest the walk saw, through recent search: those the
    mentions timeline no longer reached. Usually one page that finds nothing. Newest first."""
    query = f"@{account.handle} -is:retweet"
    events: list[RawEvent] = []
    token: str | None = None
    for _ in range(MAX_GAP_PAGES):
        search = functools.partial(
            client.search_recent, query, since_id=since_id, until_id=oldest_seen, next_token=token
        )
        body = await _page(search)
        page = split_page(body)
        events.extend(page.events)
        token = page.next_token
        if token is None:
            break
    return events


def search_cursor(keyword_query: str) -> str:
    """One cursor per query, named by a digest so that any query fits the column."""
    return f"{SEARCH}:{hashlib.sha256(keyword_query.encode()).hexdigest()[:16]}"


async def poll_search(
    database: Database, client: XClient, account: ChannelAccount, keyword_query: str
) -> PollResult:
    query = search_query(keyword_query)

    async def fetch(since_id: str | None, token: str | None) -> dict[str, Any]:
        return await client.search_recent(query, since_id=since_id, next_token=token)

    return await _poll_since(
        database, account, source=SEARCH, cursor_name=search_cursor(keyword_query), fetch=fetch
    )


def _reaches(page: Page, seen_id: str | None) -> bool:
    if seen_id is None:
        return False
    return any(e.external_id.isdigit() and int(e.external_id) <= int(seen_id) for e in page.events)


async def poll_dms(database: Database, client: XClient, account: ChannelAccount) -> PollResult:
    async with database.reader() as session:
        seen_id = await read_cursor(session, account.id, DMS)
    events: list[RawEvent] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = split_dm_page(await _page(functools.partial(client.dm_events, pagination_token=token)))
        events.extend(page.events)
        token = page.next_token
        if token is None or _reaches(page, seen_id):
            break
    ids = [int(e.external_id) for e in events if e.external_id.isdigit()]
    newest = seen_id
    if ids and (seen_id is None or max(ids) > int(seen_id)):
        newest = str(max(ids))
    # Already-seen events in the overlap are stored again as no-ops (the key is their id).
    events.sort(key=lambda e: int(e.external_id) if e.external_id.isdigit() else 0, reverse=True)
    return await _store(database, account, DMS, DMS, events, newest, seen_id)
