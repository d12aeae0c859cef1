"""In-memory state of the simulated network: users, their tokens, and tweets.

Reads are plain synchronous lookups. Every mutation runs under one asyncio lock
and, still holding it, awaits the subscribed listeners, so listeners (the future
filtered stream and webhooks) observe events in exactly the order they happened.
Listeners must therefore be quick: enqueue work, never do network I/O inline.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from xsim.entities import Entities, parse_entities
from xsim.ids import SnowflakeGenerator, snowflake_time

log = logging.getLogger(__name__)


@dataclass(slots=True)
class User:
    id: str
    username: str
    name: str
    created_at: datetime
    #: Bearer token a simulated user acts with; None for the brand, which uses OAuth 1.0a.
    access_token: str | None = None
    is_brand: bool = False


@dataclass(slots=True)
class Tweet:
    id: str
    author_id: str
    text: str
    created_at: datetime
    conversation_id: str
    entities: Entities
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    quoted_tweet_id: str | None = None
    lang: str = "en"
    #: Deleted tweets stay stored (for admin assertions and threads) but are invisible to the API.
    deleted: bool = False

    @property
    def referenced_tweets(self) -> list[tuple[str, str]]:
        """``(type, id)`` pairs in the order X lists them."""
        refs = []
        if self.quoted_tweet_id:
            refs.append(("quoted", self.quoted_tweet_id))
        if self.in_reply_to_tweet_id:
            refs.append(("replied_to", self.in_reply_to_tweet_id))
        return refs


@dataclass(frozen=True, slots=True)
class TweetCreated:
    tweet: Tweet


@dataclass(frozen=True, slots=True)
class TweetDeleted:
    tweet: Tweet


StoreEvent = TweetCreated | TweetDeleted
Listener = Callable[[StoreEvent], Awaitable[None]]


class StoreError(Exception):
    """A mutation was refused; the subclass says why."""


class UsernameTaken(StoreError):
    pass


class DuplicateContent(StoreError):
    pass


class ReferencedTweetUnavailable(StoreError):
    """The tweet replied to or quoted does not exist or was deleted."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class ReplyNotAllowed(StoreError):
    pass


@dataclass(slots=True)
class _State:
    users: dict[str, User] = field(default_factory=dict)
    user_ids_by_username: dict[str, str] = field(default_factory=dict)
    user_ids_by_token: dict[str, str] = field(default_factory=dict)
    #: Insertion order is id order, because ids are issued under the store lock.
    tweets: dict[str, Tweet] = field(default_factory=dict)
    #: (author id, text) of live tweets, for the duplicate-content rule.
    live_texts: set[tuple[str, str]] = field(default_factory=set)


class Store:
    def __init__(self, *, brand: User, ids: SnowflakeGenerator) -> None:
        self.brand = brand
        self._ids = ids
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._state = self._fresh_state()

    def _fresh_state(self) -> _State:
        state = _State()
        state.users[self.brand.id] = self.brand
        state.user_ids_by_username[self.brand.username.lower()] = self.brand.id
        return state

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` after every mutation that produces an event."""
        self._listeners.append(listener)

    # -- reads ---------------------------------------------------------------------------

    def user(self, user_id: str) -> User | None:
        return self._state.users.get(user_id)

    def user_by_username(self, username: str) -> User | None:
        user_id = self._state.user_ids_by_username.get(username.lower())
        return self._state.users[user_id] if user_id else None

    def user_by_token(self, token: str) -> User | None:
        user_id = self._state.user_ids_by_token.get(token)
        return self._state.users[user_id] if user_id else None

    def username_of(self, user_id: str) -> str | None:
        user = self._state.users.get(user_id)
        return user.username if user else None

    def users(self) -> list[User]:
        """All users, the brand first, then in creation order."""
        return list(self._state.users.values())

    def tweet(self, tweet_id: str) -> Tweet | None:
        """The tweet with this id, deleted or not."""
        return self._state.tweets.get(tweet_id)

    def live_tweet(self, tweet_id: str) -> Tweet | None:
        tweet = self._state.tweets.get(tweet_id)
        return tweet if tweet and not tweet.deleted else None

    def tweets(self) -> list[Tweet]:
        """Every stored tweet, deleted ones included, oldest first."""
        return list(self._state.tweets.values())

    def live_tweets_newest_first(self) -> list[Tweet]:
        return [t for t in reversed(self._state.tweets.values()) if not t.deleted]

    # -- mutations -----------------------------------------------------------------------

    async def create_user(self, username: str, name: str) -> User:
        async with self._lock:
            if username.lower() in self._state.user_ids_by_username:
                raise UsernameTaken(username)
            user_id = self._ids.next_id()
            token = secrets.token_urlsafe(32)
            user = User(
                id=user_id,
                username=username,
                name=name,
                created_at=snowflake_time(user_id),
                access_token=token,
            )
            self._state.users[user_id] = user
            self._state.user_ids_by_username[username.lower()] = user_id
            self._state.user_ids_by_token[token] = user_id
            return user

    async def create_tweet(
        self,
        *,
        author: User,
        text: str,
        in_reply_to_tweet_id: str | None = None,
        quote_tweet_id: str | None = None,
        reply_restriction: bool = False,
    ) -> Tweet:
        """Store a new tweet by ``author``.

        With ``reply_restriction`` on (self-serve tier behaviour), replying to or quoting
        a tweet is allowed only if its author is the caller or it mentions the caller,
        or it quotes one of the caller's tweets.
        """
        async with self._lock:
            if (author.id, text) in self._state.live_texts:
                raise DuplicateContent(text)
            parent = self._referenced(in_reply_to_tweet_id, "replied_to")
            quoted = self._referenced(quote_tweet_id, "quoted")
            if reply_restriction:
                for target in (parent, quoted):
                    if target and not self._engages(target, author):
                        raise ReplyNotAllowed(target.id)
            tweet_id = self._ids.next_id()
            tweet = Tweet(
                id=tweet_id,
                author_id=author.id,
                text=text,
                created_at=snowflake_time(tweet_id),
                conversation_id=parent.conversation_id if parent else tweet_id,
                entities=parse_entities(text, self._user_id_for),
                in_reply_to_tweet_id=parent.id if parent else None,
                in_reply_to_user_id=parent.author_id if parent else None,
                quoted_tweet_id=quoted.id if quoted else None,
            )
            self._state.tweets[tweet.id] = tweet
            self._state.live_texts.add((author.id, text))
            await self._publish(TweetCreated(tweet))
            return tweet

    async def delete_tweet(self, tweet: Tweet) -> None:
        async with self._lock:
            if tweet.deleted:
                return
            tweet.deleted = True
            self._state.live_texts.discard((tweet.author_id, tweet.text))
            await self._publish(TweetDeleted(tweet))

    async def reset(self) -> None:
        """Forget every user but the brand, every token and every tweet."""
        async with self._lock:
            self._state = self._fresh_state()

    # -- helpers -------------------------------------------------------------------------

    def _user_id_for(self, username: str) -> str | None:
        return self._state.user_ids_by_username.get(username.lower())

    def _referenced(self, tweet_id: str | None, kind: str) -> Tweet | None:
        if tweet_id is None:
            return None
        tweet = self.live_tweet(tweet_id)
        if tweet is None:
            raise ReferencedTweetUnavailable(kind)
        return tweet

    def _engages(self, tweet: Tweet, user: User) -> bool:
        if tweet.author_id == user.id:
            return True
        if any(m.user_id == user.id for m in tweet.entities.mentions):
            return True
        quoted = self.tweet(tweet.quoted_tweet_id) if tweet.quoted_tweet_id else None
        return quoted is not None and quoted.author_id == user.id

    async def _publish(self, event: StoreEvent) -> None:
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("xsim store listener failed on %s", type(event).__name__)
