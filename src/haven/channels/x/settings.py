"""Per-account X settings, kept in ``ChannelAccount.settings``: which paths feed Haven, and what opens
a conversation.

Each ingestion path is switchable. Several may be on at once; they feed the same store, where the
(account, external id) key keeps one copy of a post that arrived by two paths.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from haven.channels.base import Trigger
from haven.models import ChannelAccount

KeywordQuery = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]


class IngestPaths(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Poll ``/2/users/:id/mentions``.
    mentions: bool = True
    #: Poll ``/2/tweets/search/recent`` for each keyword query.
    search: bool = False
    #: Hold the app's filtered stream open, with rules for the handle and the keyword queries.
    stream: bool = False
    #: Accept Account Activity webhook deliveries for this account.
    webhooks: bool = False
    #: Poll ``/2/dm_events``.
    dms: bool = True


class XAccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest: IngestPaths = Field(default_factory=IngestPaths)
    #: Searches for posts about the brand that do not @-mention it (the brand's name without the @).
    #: ``-is:retweet`` is added to each, so retweets never cost a read.
    keyword_queries: list[KeywordQuery] = Field(default_factory=list, max_length=20)
    #: Which kinds of post may open a new conversation. A post in a thread Haven already has always
    #: joins it, whatever its trigger.
    open_on: frozenset[Trigger] = frozenset(
        {Trigger.MENTION, Trigger.REPLY, Trigger.KEYWORD, Trigger.DIRECT_MESSAGE}
    )


def account_settings(account: ChannelAccount) -> XAccountSettings:
    """The account's settings; what was stored was validated on the way in, so this cannot fail."""
    return XAccountSettings.model_validate(account.settings or {})


def search_query(keyword_query: str) -> str:
    return f"({keyword_query}) -is:retweet"


def mention_rule(handle: str) -> str:
    return f"@{handle} -is:retweet"
