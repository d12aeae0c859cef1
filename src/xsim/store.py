"""In-memory state of the simulated network: users, their tokens, tweets and Direct Messages.

Reads are plain synchronous lookups. Every mutation runs under one asyncio lock
and, still holding it, awaits the subscribed listeners, so listeners (the future
filtered stream and webhooks) observe events in exactly the order they happened.
Listeners must therefore be quick: enqueue work, never do network I/O inline.
"""

from __future__ import annotations

import asyncio
import logging
import re
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
    #: Whether anyone may open a DM conversation with this user (X's "allow messages from everyone").
    accepts_dms: bool = True
    #: Audience shown in ``public_metrics`` (v2) and ``followers_count`` (v1.1); xsim has no follow graph.
    followers_count: int = 0
    #: The (legacy) verified badge, ``verified`` in both v2 and v1.1 user objects.
    verified: bool = False


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
    #: X's language code (BCP 47); ``und`` when the text has no words (see ``tweet_lang``).
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


@dataclass(slots=True)
class DmConversation:
    #: ``<smaller user id>-<larger user id>`` for 1:1 conversations, a snowflake for groups.
    id: str
    participant_ids: tuple[str, ...]
    is_group: bool = False


@dataclass(slots=True)
class DmEvent:
    """One event of a DM conversation: ``MessageCreate``, ``ParticipantsJoin`` or ``ParticipantsLeave``."""

    id: str
    event_type: str
    dm_conversation_id: str
    sender_id: str
    created_at: datetime
    text: str = ""
    entities: Entities = field(default_factory=Entities)
    #: Attached media ids (X allows one); xsim does not simulate uploads, so they are taken on trust.
    media_ids: tuple[str, ...] = ()
    #: Who joined or left (join/leave events).
    participant_ids: tuple[str, ...] = ()
    #: Tweets linked in the text (``https://x.com/<user>/status/<id>``) that exist.
    referenced_tweet_ids: tuple[str, ...] = ()
    #: The app that sent it through the API; None for messages typed in the (simulated) X app.
    source_app_id: str | None = None
    #: Deleted events stay stored (for admin assertions) but are invisible to the API.
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class TweetCreated:
    tweet: Tweet


@dataclass(frozen=True, slots=True)
class TweetDeleted:
    tweet: Tweet


@dataclass(frozen=True, slots=True)
class DirectMessageCreated:
    """A ``MessageCreate`` event was stored (join events are not published)."""

    event: DmEvent
    conversation: DmConversation


@dataclass(frozen=True, slots=True)
class DirectMessageDeleted:
    event: DmEvent


StoreEvent = TweetCreated | TweetDeleted | DirectMessageCreated | DirectMessageDeleted
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


class UnknownParticipant(StoreError):
    """A DM names a user who does not exist."""

    def __init__(self, user_id: str) -> None:
        super().__init__(user_id)
        self.user_id = user_id


class ConversationNotFound(StoreError):
    pass


class NotAParticipant(StoreError):
    pass


class DmToSelf(StoreError):
    pass


class DmNotAllowed(StoreError):
    """A recipient does not accept DMs from the sender."""

    def __init__(self, user_id: str) -> None:
        super().__init__(user_id)
        self.user_id = user_id


_TWEET_LINK = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[A-Za-z0-9_]{1,15}/status/([0-9]{1,19})(?:[/?#].*)?$",
    re.IGNORECASE,
)


#: The most followers ``/_sim/users`` accepts (X's largest accounts have a few hundred million).
MAX_FOLLOWERS = 10**9
#: A language code as X gives it in ``lang``: ``en``, ``pt``, ``zh-cn`` … (``und`` when undetermined).
LANG_PATTERN = r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"
#: The language xsim gives posts whose author did not choose one (it does not detect languages).
DEFAULT_LANG = "en"


def tweet_lang(text: str, entities: Entities) -> str:
    """``und`` when nothing but mentions, tags, links, digits and symbols is left; else the default.

    X detects the language; xsim does not, but a post with no words at all is undetermined there too.
    """
    spans = sorted(
        (item.start, item.end)
        for group in (entities.mentions, entities.hashtags, entities.cashtags, entities.urls)
        for item in group
    )
    rest, position = [], 0
    for start, end in spans:
        rest.append(text[position:start])
        position = max(position, end)
    rest.append(text[position:])
    return DEFAULT_LANG if any(ch.isalpha() for ch in "".join(rest)) else "und"


def one_to_one_conversation_id(first: str, second: str) -> str:
    """``<smaller id>-<larger id>``, comparing ids as numbers."""
    low, high = sorted((first, second), key=int)
    return f"{low}-{high}"


@dataclass(slots=True)
class _State:
    users: dict[str, User] = field(default_factory=dict)
    user_ids_by_username: dict[str, str] = field(default_factory=dict)
    user_ids_by_token: dict[str, str] = field(default_factory=dict)
    #: Insertion order is id order, because ids are issued under the store lock.
    tweets: dict[str, Tweet] = field(default_factory=dict)
    #: (author id, text) of live tweets, for the duplicate-content rule.
    live_texts: set[tuple[str, str]] = field(default_factory=set)
    dm_conversations: dict[str, DmConversation] = field(default_factory=dict)
    #: Insertion order is id order, as for tweets.
    dm_events: dict[str, DmEvent] = field(default_factory=dict)
    #: (conversation id, user id) of everyone who has sent a message in a conversation.
    dm_writers: set[tuple[str, str]] = field(default_factory=set)
    #: Live tweets per author id (``public_metrics.tweet_count``, v1.1 ``statuses_count``).
    tweet_counts: dict[str, int] = field(default_factory=dict)


class Store:
    def __init__(self, *, brand: User, ids: SnowflakeGenerator) -> None:
        self.brand = brand
        self._brand_audience = (brand.followers_count, brand.verified)
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

    def tweet_count(self, user_id: str) -> int:
        """How many live tweets the user has posted."""
        return self._state.tweet_counts.get(user_id, 0)

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

    def dm_conversation(self, conversation_id: str) -> DmConversation | None:
        return self._state.dm_conversations.get(conversation_id)

    def dm_event(self, event_id: str) -> DmEvent | None:
        """The DM event with this id, deleted or not."""
        return self._state.dm_events.get(event_id)

    def dm_events(self) -> list[DmEvent]:
        """Every stored DM event, deleted ones included, oldest first."""
        return list(self._state.dm_events.values())

    def live_dm_events_newest_first(self) -> list[DmEvent]:
        return [e for e in reversed(self._state.dm_events.values()) if not e.deleted]

    def issue_id(self) -> str:
        """A fresh snowflake from the generator tweets and DMs use (e.g. for webhook ids)."""
        return self._ids.next_id()

    # -- mutations -----------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        name: str,
        *,
        accepts_dms: bool = True,
        followers_count: int = 0,
        verified: bool = False,
    ) -> User:
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
                accepts_dms=accepts_dms,
                followers_count=followers_count,
                verified=verified,
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
        lang: str | None = None,
    ) -> Tweet:
        """Store a new tweet by ``author``, in ``lang`` when given (see ``tweet_lang`` otherwise).

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
            entities = parse_entities(text, self._user_id_for)
            tweet = Tweet(
                id=tweet_id,
                author_id=author.id,
                text=text,
                created_at=snowflake_time(tweet_id),
                conversation_id=parent.conversation_id if parent else tweet_id,
                entities=entities,
                in_reply_to_tweet_id=parent.id if parent else None,
                in_reply_to_user_id=parent.author_id if parent else None,
                quoted_tweet_id=quoted.id if quoted else None,
                lang=lang or tweet_lang(text, entities),
            )
            self._state.tweets[tweet.id] = tweet
            self._state.live_texts.add((author.id, text))
            counts = self._state.tweet_counts
            counts[author.id] = counts.get(author.id, 0) + 1
            await self._publish(TweetCreated(tweet))
            return tweet

    async def delete_tweet(self, tweet: Tweet) -> None:
        async with self._lock:
            if tweet.deleted:
                return
            tweet.deleted = True
            self._state.live_texts.discard((tweet.author_id, tweet.text))
            counts = self._state.tweet_counts
            counts[tweet.author_id] = max(counts.get(tweet.author_id, 0) - 1, 0)
            await self._publish(TweetDeleted(tweet))

    async def update_user(
        self,
        user: User,
        *,
        accepts_dms: bool | None = None,
        followers_count: int | None = None,
        verified: bool | None = None,
    ) -> None:
        """Change the given settings of ``user``; ``None`` keeps a setting as it is."""
        async with self._lock:
            if accepts_dms is not None:
                user.accepts_dms = accepts_dms
            if followers_count is not None:
                user.followers_count = followers_count
            if verified is not None:
                user.verified = verified

    async def send_dm(
        self,
        *,
        sender: User,
        text: str,
        media_ids: tuple[str, ...] = (),
        recipient_id: str | None = None,
        conversation_id: str | None = None,
        source_app_id: str | None = None,
    ) -> tuple[DmConversation, DmEvent]:
        """Store a message from ``sender`` to ``recipient_id`` (1:1) or into ``conversation_id``.

        A 1:1 conversation is created on its first message. Every other participant must accept
        DMs, unless they have written in the conversation themselves (so a customer who turned
        DMs off can still be answered once they wrote).
        """
        async with self._lock:
            if recipient_id is not None:
                conversation = self._one_to_one(sender, recipient_id)
            elif conversation_id is not None:
                conversation = self._existing_conversation(sender, conversation_id)
            else:
                raise ValueError("a recipient or a conversation is required")
            self._check_accepts(sender, conversation)
            event = self._message(sender, conversation, text, media_ids, source_app_id)
            self._state.dm_conversations.setdefault(conversation.id, conversation)
            self._store_dm(event)
            await self._publish(DirectMessageCreated(event, conversation))
            return conversation, event

    async def create_group_dm(
        self,
        *,
        sender: User,
        participant_ids: list[str],
        text: str,
        media_ids: tuple[str, ...] = (),
        source_app_id: str | None = None,
    ) -> tuple[DmConversation, DmEvent]:
        """A new group conversation (a join event for everyone), then its first message."""
        async with self._lock:
            others = [p for p in dict.fromkeys(participant_ids) if p != sender.id]
            for user_id in others:
                if user_id not in self._state.users:
                    raise UnknownParticipant(user_id)
            conversation = DmConversation(
                id=self._ids.next_id(), participant_ids=(sender.id, *others), is_group=True
            )
            self._check_accepts(sender, conversation)
            join_id = self._ids.next_id()
            join = DmEvent(
                id=join_id,
                event_type="ParticipantsJoin",
                dm_conversation_id=conversation.id,
                sender_id=sender.id,
                created_at=snowflake_time(join_id),
                participant_ids=conversation.participant_ids,
            )
            event = self._message(sender, conversation, text, media_ids, source_app_id)
            self._state.dm_conversations[conversation.id] = conversation
            self._state.dm_events[join.id] = join
            self._store_dm(event)
            await self._publish(DirectMessageCreated(event, conversation))
            return conversation, event

    async def delete_dm_event(self, event: DmEvent) -> None:
        async with self._lock:
            if event.deleted:
                return
            event.deleted = True
            await self._publish(DirectMessageDeleted(event))

    async def reset(self) -> None:
        """Forget every user but the brand, every token, every tweet and every DM."""
        async with self._lock:
            self.brand.accepts_dms = True
            self.brand.followers_count, self.brand.verified = self._brand_audience
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

    def _one_to_one(self, sender: User, recipient_id: str) -> DmConversation:
        if recipient_id == sender.id:
            raise DmToSelf(recipient_id)
        if recipient_id not in self._state.users:
            raise UnknownParticipant(recipient_id)
        conversation_id = one_to_one_conversation_id(sender.id, recipient_id)
        existing = self._state.dm_conversations.get(conversation_id)
        if existing is not None:
            return existing
        return DmConversation(
            id=conversation_id, participant_ids=tuple(sorted((sender.id, recipient_id), key=int))
        )

    def _existing_conversation(self, sender: User, conversation_id: str) -> DmConversation:
        conversation = self._state.dm_conversations.get(conversation_id)
        if conversation is None:
            # A well-formed 1:1 id naming the sender opens that conversation, as on X.
            low, dash, high = conversation_id.partition("-")
            if dash and sender.id in (low, high) and conversation_id == one_to_one_conversation_id(low, high):
                return self._one_to_one(sender, high if sender.id == low else low)
            raise ConversationNotFound(conversation_id)
        if sender.id not in conversation.participant_ids:
            raise NotAParticipant(conversation_id)
        return conversation

    def _check_accepts(self, sender: User, conversation: DmConversation) -> None:
        for user_id in conversation.participant_ids:
            user = self._state.users.get(user_id)
            if user is None or user_id == sender.id or user.accepts_dms:
                continue
            if (conversation.id, user_id) not in self._state.dm_writers:
                raise DmNotAllowed(user_id)

    def _message(
        self,
        sender: User,
        conversation: DmConversation,
        text: str,
        media_ids: tuple[str, ...],
        source_app_id: str | None,
    ) -> DmEvent:
        event_id = self._ids.next_id()
        entities = parse_entities(text, self._user_id_for)
        referenced = []
        for link in entities.urls:
            match = _TWEET_LINK.match(link.url)
            if match and match.group(1) in self._state.tweets:
                referenced.append(match.group(1))
        return DmEvent(
            id=event_id,
            event_type="MessageCreate",
            dm_conversation_id=conversation.id,
            sender_id=sender.id,
            created_at=snowflake_time(event_id),
            text=text,
            entities=entities,
            media_ids=media_ids,
            referenced_tweet_ids=tuple(dict.fromkeys(referenced)),
            source_app_id=source_app_id,
        )

    def _store_dm(self, event: DmEvent) -> None:
        self._state.dm_events[event.id] = event
        self._state.dm_writers.add((event.dm_conversation_id, event.sender_id))

    async def _publish(self, event: StoreEvent) -> None:
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("xsim store listener failed on %s", type(event).__name__)
