"""Polling the brand's mentions, the way the contract prescribes.

Remember the ``newest_id`` of the first page, follow ``next_token`` to the end, store every tweet as a
raw event, and only then — in the same transaction — move the cursor. A crash at any point re-reads
from the old cursor, and the unique (account, tweet id) key makes the re-read harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from haven.channels.x.client import XClient
from haven.channels.x.parse import RawEvent, split_page
from haven.db import Database
from haven.inbound.store import read_cursor, store_raw_events, write_cursor
from haven.models import ChannelAccount

MENTIONS = "mentions"
#: A safety stop: X only serves the 800 newest mentions, i.e. at most 8 pages of 100.
MAX_PAGES = 10


@dataclass(frozen=True, slots=True)
class PollResult:
    fetched: int
    cursor: str | None


async def poll_mentions(database: Database, client: XClient, account: ChannelAccount) -> PollResult:
    async with database.reader() as session:
        since_id = await read_cursor(session, account.id, MENTIONS)
    events: list[RawEvent] = []
    newest_id: str | None = None
    token: str | None = None
    for _ in range(MAX_PAGES):
        body = await client.mentions(account.external_user_id, since_id=since_id, pagination_token=token)
        page = split_page(body)
        events.extend(page.events)
        newest_id = newest_id or page.newest_id
        token = page.next_token
        if token is None:
            break
    if not events:
        return PollResult(fetched=0, cursor=since_id)
    # X serves newest first; store oldest first so that a thread's root is processed before its replies.
    events.reverse()
    async with database.unit_of_work() as session:
        await store_raw_events(session, account.id, MENTIONS, events)
        if newest_id is not None:
            await write_cursor(session, account.id, MENTIONS, newest_id)
    return PollResult(fetched=len(events), cursor=newest_id or since_id)
