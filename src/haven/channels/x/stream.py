"""The filtered stream: one long-lived connection per X app, feeding every account that streams.

X allows an app (one consumer key) one stream connection, whose rules decide which posts it carries.
Haven therefore groups the active X accounts that have ``ingest.stream`` on by app — the API base URL
and the consumer key of their decrypted credentials — and holds one connection per group:

* **Rules** are Haven's configuration, projected: per account, ``mention_rule(handle)`` tagged
  ``haven:<account id>:mention`` and ``search_query(q)`` for each keyword query tagged
  ``haven:<account id>:keyword``. They are synced before every (re)connect and whenever the
  configuration changes: rules tagged ``haven:`` that are no longer wanted are deleted, missing ones
  added. A rule with any other tag belongs to someone else and is never touched.
* **Reading**: newline-delimited JSON with blank keep-alive lines. A read timeout (21 s by default,
  the keep-alive period plus one second) detects a dead connection. A line with only ``errors`` that
  announces a disconnect ends the connection; a line that cannot be parsed is stored as an invalid
  event for an operator to see; nothing a line contains can stop the consumer.
* **Reconnecting** follows X's prescription (contract §4) in :class:`Backoff`: network errors back
  off linearly by 250 ms up to 16 s, HTTP errors exponentially from 5 s up to 320 s, 429 from 60 s;
  401 and 403 stop the consumer until its configuration changes; a 200 resets everything.
* **Storing**: each post becomes a raw event in the ``x.v2.tweet`` format, stored with source
  ``stream`` for every account whose ``haven:<id>:`` tag is among the line's ``matching_rules``.
  Lines are batched (up to 100 lines or 50 ms) into one transaction, then the pipeline is woken.
  The (account, external id) key makes duplicated lines harmless, and threads are keyed by X's
  ``conversation_id``, so a reply that arrives before its root still joins the root's conversation.

How the stream and mentions polling combine: the stream is the fast path (a post is in the console
within a second), polling is the lossless one. X does not replay what a connection missed, except
for ``backfill_minutes`` (0–5, some tiers only), which the consumer requests when
``HAVEN_STREAM_BACKFILL_MINUTES`` is set: after a disconnect shorter than five minutes, enough to
cover the gap; on a first start, when nothing says how long the stream was away, all that is
configured. The gap is known across restarts too: with its batches the consumer records, in
``channel_cursor`` (stream ``"stream"``, position = an ISO time) and in the same transaction, up to
when it has committed what it read. Keep ``ingest.mentions`` on next to ``ingest.stream``: polling
walks the mentions from its cursor, so whatever the stream dropped — a long outage, a tier without
backfill, lines in flight when a socket died — arrives a poll interval later, and whatever both
paths delivered is stored once. Keyword matches have no such safety net in mentions polling;
``ingest.search`` provides it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from haven.channels.x.account import open_credentials
from haven.channels.x.client import XApiError, XClient, XCredentials
from haven.channels.x.parse import RAW_FORMAT, RawEvent, envelope, invalid_event
from haven.channels.x.settings import account_settings, mention_rule, search_query
from haven.channels.x.usage import POST_READ
from haven.config import Settings
from haven.db import Database
from haven.inbound.store import store_raw_events, write_cursor
from haven.kit.clock import utcnow
from haven.models import ChannelAccount, ChannelCursor, ChannelKind
from haven.security.crypto import FieldCipher
from haven.usage import service as usage

log = logging.getLogger(__name__)

#: The ``source`` of raw events that came by the stream.
STREAM = "stream"
TAG_PREFIX = "haven:"
_TAG = re.compile(r"^haven:([0-9]{1,18}):(mention|keyword)$")
#: A line longer than this is not a post: the connection is treated as broken.
MAX_LINE_BYTES = 1 << 20
#: How much of an unparseable line is kept for an operator.
MAX_INVALID_CHARS = 10_000
#: Lines stored per transaction, and how long the first line of a batch waits for others.
BATCH_LINES = 100
BATCH_SECONDS = 0.05
#: X backfills at most five minutes, so a longer disconnect is left to mentions polling.
MAX_BACKFILL_MINUTES = 5
BACKFILL_WITHIN_SECONDS = 300.0
#: Posts a reconnect may have missed just before the last line was read.
BACKFILL_MARGIN_SECONDS = 30.0
#: Lines waiting to be stored; when full, reading pauses (X buffers on its side).
QUEUE_SIZE = 10_000
#: How often, at most, the consumer records up to when it has stored what it read. The record is a
#: ``channel_cursor`` row per account (stream ``"stream"``, position = an ISO time), written in the
#: same transaction as the events; after a restart it tells how much backfill to ask for.
CHECKPOINT_SECONDS = 1.0
#: How many recent reconnect delays and backfill requests a consumer's status keeps.
STATUS_HISTORY = 50


# --- Reconnect backoff -------------------------------------------------------------------------------


class Backoff:
    """Reconnect delays as X prescribes (contract §4; tweepy implements the same).

    Network errors: linear, +250 ms per attempt up to 16 s. HTTP errors: exponential from 5 s up to
    320 s. 429: exponential from 60 s (the HTTP delay is raised to at least 60 s, then doubles, up to
    the same cap). A 200 connect resets both. ``scale`` multiplies every delay (tests use 0.01).
    """

    NETWORK_STEP = 0.25
    NETWORK_MAX = 16.0
    HTTP_START = 5.0
    HTTP_MAX = 320.0
    RATE_LIMITED_START = 60.0

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._network = 0.0
        self._http = self.HTTP_START

    def network_error(self) -> float:
        """The delay before the next attempt after a TCP/TLS-level failure or a dropped stream."""
        self._network = min(self._network + self.NETWORK_STEP, self.NETWORK_MAX)
        return self._network * self.scale

    def http_error(self) -> float:
        """The delay before the next attempt after an HTTP error answer (other than 429)."""
        delay = self._http
        self._http = min(self._http * 2, self.HTTP_MAX)
        return delay * self.scale

    def rate_limited(self) -> float:
        """The delay before the next attempt after a 429."""
        self._http = max(self._http, self.RATE_LIMITED_START)
        return self.http_error()

    def connected(self) -> None:
        """A 200 connect: the next failure starts from the first step again."""
        self._network = 0.0
        self._http = self.HTTP_START


# --- Rules -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Rule:
    tag: str
    value: str


@dataclass(frozen=True, slots=True)
class StreamAccount:
    """What the stream needs of one account: its id (for tags) and the rules' inputs."""

    id: int
    handle: str
    keyword_queries: tuple[str, ...] = ()


def rule_tag(account_id: int, kind: str) -> str:
    return f"{TAG_PREFIX}{account_id}:{kind}"


def account_id_of_tag(tag: object) -> int | None:
    """The account a Haven rule tag names, or None for anything else (someone else's rule)."""
    if not isinstance(tag, str):
        return None
    match = _TAG.match(tag)
    return int(match.group(1)) if match else None


def desired_rules(accounts: Iterable[StreamAccount]) -> frozenset[Rule]:
    rules: set[Rule] = set()
    for account in accounts:
        rules.add(Rule(rule_tag(account.id, "mention"), mention_rule(account.handle)))
        for query in account.keyword_queries:
            rules.add(Rule(rule_tag(account.id, "keyword"), search_query(query)))
    return frozenset(rules)


@dataclass(frozen=True, slots=True)
class RulePlan:
    delete_ids: tuple[str, ...]
    add: tuple[Rule, ...]


def plan_rules(existing: Iterable[Any], desired: Collection[Rule]) -> RulePlan:
    """What to delete and add so that the ``haven:`` rules are exactly ``desired``.

    Only rules whose tag starts with ``haven:`` are ever deleted; X keys rules by value, so a wanted
    value under a different tag is deleted and added again with the right one.
    """
    ours: list[tuple[str, Rule]] = []
    for item in existing:
        if not isinstance(item, dict):
            continue
        rule_id, tag, value = item.get("id"), item.get("tag"), item.get("value")
        if isinstance(rule_id, str) and isinstance(tag, str) and tag.startswith(TAG_PREFIX):
            ours.append((rule_id, Rule(tag, value if isinstance(value, str) else "")))
    present = {rule for _, rule in ours}
    return RulePlan(
        delete_ids=tuple(rule_id for rule_id, rule in ours if rule not in desired),
        add=tuple(sorted(rule for rule in desired if rule not in present)),
    )


@dataclass(frozen=True, slots=True)
class RuleSync:
    added: int
    deleted: int
    #: ``(tag, title)`` of each rule X refused, e.g. ``("haven:3:keyword", "DuplicateRule")``.
    refused: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Refusal:
    value: str | None
    tag: str
    title: str
    kind: str


def _refusals(answer: Mapping[str, Any], tags_by_value: Mapping[str, str]) -> list[_Refusal]:
    refused = []
    errors = answer.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        value = error.get("value") if isinstance(error.get("value"), str) else None
        tag = tags_by_value.get(value, "?") if value is not None else "?"
        if tag == "?" and isinstance(error.get("id"), str):
            tag = f"rule {error['id']}"
        kind = str(error.get("type") or "").rsplit("/", 1)[-1]
        refused.append(_Refusal(value, tag, str(error.get("title") or kind or "error")[:100], kind))
    return refused


#: Refusals that make X create none of the rules of the request.
_INVALID_KINDS = ("invalid-rules", "noncompliant-rules")


async def sync_rules(client: XClient, desired: Collection[Rule]) -> RuleSync:
    """Make the app's ``haven:`` rules equal ``desired``; per-rule refusals are logged by tag only.

    X creates nothing when one rule of an ``add`` is invalid, so the add is repeated once without
    the invalid ones: a bad keyword query must not keep an account's mention rule out.
    """
    plan = plan_rules(await client.stream_rules(), desired)
    refused: list[_Refusal] = []
    if plan.delete_ids:
        refused += _refusals(await client.delete_stream_rules(list(plan.delete_ids)), {})
    to_add = list(plan.add)
    added = 0
    for _ in range(2):
        if not to_add:
            break
        answer = await client.add_stream_rules([{"value": r.value, "tag": r.tag} for r in to_add])
        refusals = _refusals(answer, {rule.value: rule.tag for rule in to_add})
        refused += refusals
        data = answer.get("data")
        added += len(data) if isinstance(data, list) else 0
        invalid = {r.value for r in refusals if r.kind in _INVALID_KINDS}
        if added or not invalid:
            break
        to_add = [rule for rule in to_add if rule.value not in invalid]
    for refusal in refused:
        log.warning("X refused the stream rule change for %s: %s", refusal.tag, refusal.title)
    return RuleSync(
        added=added,
        deleted=len(plan.delete_ids),
        refused=tuple((refusal.tag, refusal.title) for refusal in refused),
    )


# --- Lines -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeepAlive:
    pass


@dataclass(frozen=True, slots=True)
class StreamedPost:
    event: RawEvent
    #: Accounts whose ``haven:`` tags matched; empty when only someone else's rules did.
    account_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class StreamedInvalid:
    """A line that is not a usable post, kept as an invalid event."""

    event: RawEvent
    #: The accounts it was meant for, or None when the line does not say (then: every account).
    account_ids: frozenset[int] | None


@dataclass(frozen=True, slots=True)
class StreamNotice:
    """A line with only ``errors``. ``disconnect``: X is closing the connection."""

    titles: tuple[str, ...]
    disconnect: bool


StreamLine = KeepAlive | StreamedPost | StreamedInvalid | StreamNotice
KEEP_ALIVE = KeepAlive()
_DISCONNECT_TYPES = ("operational-disconnect", "streaming-connection")


def _matching_accounts(matching_rules: Any) -> frozenset[int] | None:
    if not isinstance(matching_rules, list):
        return None
    ids = (account_id_of_tag(rule.get("tag")) for rule in matching_rules if isinstance(rule, dict))
    return frozenset(account_id for account_id in ids if account_id is not None)


def _invalid(item: Any, reason: str, account_ids: frozenset[int] | None) -> StreamedInvalid:
    try:
        event = invalid_event(item, reason)
    except (ValueError, TypeError, RecursionError):
        event = invalid_event(str(item)[:MAX_INVALID_CHARS], reason)
    return StreamedInvalid(event, account_ids)


def _notice(errors: list[Any]) -> StreamNotice:
    titles: list[str] = []
    disconnect = False
    for error in errors:
        if not isinstance(error, dict):
            continue
        title = str(error.get("title") or "")[:100]
        kind = str(error.get("type") or "").rsplit("/", 1)[-1]
        titles.append(title or kind or "error")
        if kind in _DISCONNECT_TYPES or title in _DISCONNECT_TYPES:
            disconnect = True
    return StreamNotice(tuple(titles), disconnect)


def _parse_body(body: Any, text: str) -> StreamLine:
    if not isinstance(body, dict):
        return _invalid(text[:MAX_INVALID_CHARS], "stream line is not a JSON object", None)
    account_ids = _matching_accounts(body.get("matching_rules"))
    data = body.get("data")
    if data is None:
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return _notice(errors)
        return _invalid(body, "stream line has neither data nor errors", account_ids)
    tweet_id = data.get("id") if isinstance(data, dict) else None
    if not (isinstance(data, dict) and isinstance(tweet_id, str) and tweet_id.isascii()):
        return _invalid(body, "stream line has no valid tweet id", account_ids)
    if not (tweet_id.isdigit() and len(tweet_id) <= 19):
        return _invalid(body, "stream line has no valid tweet id", account_ids)
    includes = body.get("includes")
    users = includes.get("users") if isinstance(includes, dict) else None
    author_id = data.get("author_id")
    author = next(
        (u for u in users or [] if isinstance(u, dict) and u.get("id") == author_id and author_id),
        None,
    )
    return StreamedPost(
        RawEvent(tweet_id, envelope(RAW_FORMAT, data, author, "tweet")), account_ids or frozenset()
    )


def parse_line(line: bytes) -> StreamLine:
    """Classify one stream line. Never raises: whatever is not a post or a notice is kept as invalid."""
    stripped = line.strip()
    if not stripped:
        return KEEP_ALIVE
    text = stripped.decode("utf-8", errors="replace")
    try:
        body = json.loads(stripped)
    except (ValueError, RecursionError):
        return _invalid(text[:MAX_INVALID_CHARS], "stream line is not JSON", None)
    try:
        return _parse_body(body, text)
    except (ValueError, TypeError, RecursionError):
        return _invalid(text[:MAX_INVALID_CHARS], "stream line could not be read", None)


class StreamBroken(Exception):
    """The connection delivered something no healthy stream does (e.g. a line over 1 MiB)."""


async def split_lines(
    chunks: AsyncIterator[bytes], *, max_line: int = MAX_LINE_BYTES
) -> AsyncIterator[bytes]:
    """Lines of a byte stream, without their ``\\n``; a trailing partial line is dropped."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            yield bytes(buffer[start:end])
            start = end + 1
        del buffer[:start]
        if len(buffer) > max_line:
            raise StreamBroken("a stream line exceeds the size limit")


# --- Apps --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppKey:
    api_base_url: str
    consumer_key: str

    def __str__(self) -> str:
        # The consumer key is an identifier, not a secret, but it need not be in logs in full.
        return f"{self.api_base_url} app {self.consumer_key[:6]}…"


@dataclass(frozen=True, slots=True)
class StreamApp:
    """One X app and the accounts that stream through its connection."""

    key: AppKey
    credentials: XCredentials
    accounts: tuple[StreamAccount, ...]

    @property
    def rules(self) -> frozenset[Rule]:
        return desired_rules(self.accounts)


def stream_apps(accounts: Sequence[ChannelAccount], cipher: FieldCipher) -> dict[AppKey, StreamApp]:
    """Group the active X accounts with ``ingest.stream`` on by app (API base URL + consumer key).

    The app's bearer token is taken from its lowest-numbered account.
    """
    grouped: dict[AppKey, tuple[XCredentials, list[StreamAccount]]] = {}
    for account in sorted(accounts, key=lambda a: a.id):
        if not account.active or account.kind != ChannelKind.X:
            continue
        try:
            settings = account_settings(account)
            if not settings.ingest.stream:
                continue
            credentials = open_credentials(cipher, account)
        except Exception:
            log.warning("account %s: cannot read its settings or credentials; not streaming", account.id)
            continue
        key = AppKey(account.api_base_url.rstrip("/"), credentials.consumer_key)
        entry = grouped.setdefault(key, (credentials, []))
        entry[1].append(StreamAccount(account.id, account.handle, tuple(settings.keyword_queries)))
    return {key: StreamApp(key, creds, tuple(members)) for key, (creds, members) in grouped.items()}


# --- The consumer ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamOptions:
    #: Seconds without a byte (keep-alives included) after which the connection counts as dead.
    read_timeout: float = 21.0
    #: Minutes of backfill to request after a short disconnect (0 = never; X allows up to 5).
    backfill_minutes: int = 0
    #: Multiplies every reconnect delay (1 in production; tests make reconnects fast).
    backoff_scale: float = 1.0
    batch_lines: int = BATCH_LINES
    batch_seconds: float = BATCH_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamOptions:
        return cls(
            read_timeout=settings.stream_read_timeout_seconds,
            backfill_minutes=settings.stream_backfill_minutes,
            backoff_scale=settings.stream_backoff_scale,
        )


@dataclass
class StreamStatus:
    """What a consumer has done so far; for operators and tests."""

    attempts: int = 0
    connects: int = 0
    connected: bool = False
    lines: int = 0
    keepalives: int = 0
    #: Raw events handed to the store (one per post and account), duplicates included.
    stored: int = 0
    invalid: int = 0
    #: Posts that matched only rules that are not Haven's, or of accounts no longer streaming.
    unmatched: int = 0
    #: Connections that ended after a 200, for whatever reason.
    disconnects: int = 0
    rule_syncs: int = 0
    last_error: str | None = None
    last_status: int | None = None
    #: The latest reconnect delays and backfill requests, oldest first.
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=STATUS_HISTORY))
    backfill_requests: deque[int] = field(default_factory=lambda: deque(maxlen=STATUS_HISTORY))
    #: Set when the consumer gave up (401/403): it stays stopped until its configuration changes.
    stopped: str | None = None


@dataclass(frozen=True, slots=True)
class _Queued:
    #: A line to store, or None for a checkpoint (a keep-alive: nothing to store, time to record).
    line: StreamedPost | StreamedInvalid | None
    #: Wall time (epoch seconds) at which the line was read.
    read_at: float


class StreamConsumer:
    """Holds one app's stream: syncs its rules, reads, stores, reconnects. ``run`` until cancelled."""

    def __init__(
        self,
        database: Database,
        app: StreamApp,
        options: StreamOptions | None = None,
        *,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._database = database
        self._app = app
        self._options = options or StreamOptions()
        self._on_stored = on_stored
        self._client = XClient(app.key.api_base_url, app.credentials)
        self._backoff = Backoff(self._options.backoff_scale)
        #: Lines read (or, for None, a keep-alive checkpoint) with the wall time they were read at;
        #: a bare None stops the writer.
        self._queue: asyncio.Queue[_Queued | None] = asyncio.Queue(QUEUE_SIZE)
        self._rules_lock = asyncio.Lock()
        self._rules_changed = asyncio.Event()
        #: Wall time of the last line read by this consumer; None before the first one.
        self._last_alive: float | None = None
        #: Wall time up to which an earlier run committed what it read (the stored checkpoint).
        self._resume_after: float | None = None
        #: When the checkpoint was last written and last queued (wall time).
        self._checkpoint_written = 0.0
        self._checkpoint_queued = 0.0
        self.status = StreamStatus()

    @property
    def app(self) -> StreamApp:
        return self._app

    def update(self, app: StreamApp) -> None:
        """New accounts or rules for the same app and credentials: re-sync rules, keep the connection."""
        if app.key != self._app.key or app.credentials != self._app.credentials:
            raise ValueError("a different app or credentials need a new consumer")
        changed = app.rules != self._app.rules
        self._app = app
        if changed:
            self._rules_changed.set()

    async def run(self) -> None:
        writer = asyncio.create_task(self._write_loop(), name=f"haven-stream-writer {self._app.key}")
        watcher = asyncio.create_task(self._rules_loop(), name=f"haven-stream-rules {self._app.key}")
        try:
            self._resume_after = await self._load_checkpoint()
            await self._connect_loop()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self._finish_writing(writer)
            await self._client.aclose()

    async def _finish_writing(self, writer: asyncio.Task[None]) -> None:
        """Store what was read before stopping (a few seconds at most), then stop the writer."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout=5.0)
        except (TimeoutError, asyncio.CancelledError):
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        except Exception:
            log.exception("stream writer of %s failed while stopping", self._app.key)

    # Connecting and reading ---------------------------------------------------------------------

    async def _connect_loop(self) -> None:
        while True:
            try:
                await self._sync_rules_before_connecting()
                await self._read_stream()
                delay = self._backoff.network_error()
            except XApiError as exc:
                self.status.last_status = exc.status
                self.status.last_error = f"{exc.status} {exc.title}"[:200]
                if exc.status in (401, 403):
                    self.status.stopped = self.status.last_error
                    log.error(
                        "stream of %s refused (%s): stopped until its configuration changes",
                        self._app.key,
                        self.status.last_error,
                    )
                    return
                delay = self._backoff.rate_limited() if exc.status == 429 else self._backoff.http_error()
                if exc.status == 429:
                    # A used-up connect window outlasts the backoff: wait for its reset (+1 s).
                    until = exc.rate_limit.exhausted_until if exc.rate_limit else None
                    if until is not None:
                        delay = max(delay, (until - utcnow()).total_seconds() + 1)
                log.warning(
                    "stream of %s: %s; reconnecting in %.2f s", self._app.key, self.status.last_error, delay
                )
            except (httpx.HTTPError, StreamBroken) as exc:
                self.status.last_error = type(exc).__name__
                delay = self._backoff.network_error()
                log.warning(
                    "stream of %s: %s; reconnecting in %.2f s", self._app.key, type(exc).__name__, delay
                )
            except Exception as exc:
                self.status.last_error = type(exc).__name__
                delay = self._backoff.http_error()
                log.exception("stream of %s failed; reconnecting in %.2f s", self._app.key, delay)
            finally:
                if self.status.connected:
                    self.status.disconnects += 1
                    self.status.connected = False
            self.status.delays.append(delay)
            await asyncio.sleep(delay)

    def _backfill_minutes(self) -> int:
        """Minutes to ask X to replay (never more than configured).

        When the stream was last alive is known — in this process, or from the checkpoint a former
        run stored — enough to cover the gap if it is shorter than five minutes, else none (a longer
        gap is polling's to fill). When nothing says (a first start), all that is configured.
        """
        wanted = min(self._options.backfill_minutes, MAX_BACKFILL_MINUTES)
        alive = self._last_alive if self._last_alive is not None else self._resume_after
        if wanted <= 0:
            return 0
        if alive is None:
            return wanted
        gap = time.time() - alive
        if gap >= BACKFILL_WITHIN_SECONDS:
            return 0
        return min(wanted, max(1, math.ceil((gap + BACKFILL_MARGIN_SECONDS) / 60)))

    async def _read_stream(self) -> None:
        """One connection, read until it ends. Returns when X closed it or announced a disconnect."""
        backfill = self._backfill_minutes()
        self.status.attempts += 1
        async with self._client.filtered_stream(
            backfill_minutes=backfill, read_timeout=self._options.read_timeout
        ) as response:
            self._backoff.connected()
            self.status.connects += 1
            self.status.connected = True
            if backfill:
                self.status.backfill_requests.append(backfill)
            async for raw in split_lines(response.aiter_bytes()):
                self._last_alive = now = time.time()
                self.status.lines += 1
                line = parse_line(raw)
                if isinstance(line, KeepAlive):
                    self.status.keepalives += 1
                    if now - self._checkpoint_queued >= CHECKPOINT_SECONDS:
                        # Quiet stream: let the writer record that everything read so far is stored.
                        self._checkpoint_queued = now
                        await self._queue.put(_Queued(None, now))
                elif isinstance(line, StreamNotice):
                    log.warning("stream of %s says: %s", self._app.key, ", ".join(line.titles))
                    if line.disconnect:
                        return
                else:
                    await self._queue.put(_Queued(line, now))

    async def _sync_rules_before_connecting(self) -> None:
        """Sync rules; an answer other than 401/403 does not keep the stream from connecting with the
        rules it has (the watcher tries again). A network error does: the connect would fail too."""
        try:
            await self._sync_rules()
        except XApiError as exc:
            if exc.status in (401, 403):
                raise
            log.warning(
                "syncing the stream rules of %s failed: %s %s; connecting anyway",
                self._app.key,
                exc.status,
                exc.title[:100],
            )
            self._rules_changed.set()

    async def _sync_rules(self) -> None:
        async with self._rules_lock:
            self._rules_changed.clear()
            result = await sync_rules(self._client, self._app.rules)
            self.status.rule_syncs += 1
            if result.added or result.deleted:
                log.info(
                    "stream rules of %s: %d added, %d deleted", self._app.key, result.added, result.deleted
                )

    async def _rules_loop(self) -> None:
        """Re-sync rules when the configuration changes, without dropping the connection."""
        backoff = Backoff(self._options.backoff_scale)
        while True:
            await self._rules_changed.wait()
            try:
                await self._sync_rules()
                backoff.connected()
            except Exception as exc:
                delay = backoff.http_error()
                log.warning("syncing the stream rules of %s failed: %s", self._app.key, type(exc).__name__)
                await asyncio.sleep(delay)
                self._rules_changed.set()

    # Storing ----------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            finished = False
            deadline = loop.time() + self._options.batch_seconds
            while len(batch) < self._options.batch_lines:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                if item is None:
                    finished = True
                    break
                batch.append(item)
            try:
                await self._store(batch)
            except Exception:
                log.exception("stream writer of %s lost a batch of %d lines", self._app.key, len(batch))
            if finished:
                return

    def _by_account(self, batch: Sequence[_Queued]) -> dict[int, list[RawEvent]]:
        streaming = {account.id for account in self._app.accounts}
        grouped: dict[int, dict[str, RawEvent]] = {}
        for queued in batch:
            line = queued.line
            if line is None:
                continue
            if isinstance(line, StreamedInvalid):
                self.status.invalid += 1
                targets = streaming if line.account_ids is None else line.account_ids & streaming
            else:
                targets = line.account_ids & streaming
                if not targets:
                    self.status.unmatched += 1
            for account_id in targets:
                grouped.setdefault(account_id, {}).setdefault(line.event.external_id, line.event)
        return {account_id: list(events.values()) for account_id, events in sorted(grouped.items())}

    @staticmethod
    def _billed(grouped: Mapping[int, list[RawEvent]]) -> dict[int, int]:
        """Posts X bills for, per account: each post once, to the lowest-numbered account it matched
        (the stream is the app's, but spend is reported per account)."""
        billed: dict[int, int] = {}
        seen: set[str] = set()
        for account_id in sorted(grouped):
            fresh = {e.external_id for e in grouped[account_id] if not e.error} - seen
            seen |= fresh
            if fresh:
                billed[account_id] = len(fresh)
        return billed

    async def _store(self, batch: Sequence[_Queued]) -> None:
        """Store a batch in one transaction, with the checkpoint when one is due (at most every
        ``CHECKPOINT_SECONDS``): everything read until the batch's last line is then committed.
        The posts read are metered in the same transaction."""
        grouped = self._by_account(batch)
        billed = self._billed(grouped)
        read_until = batch[-1].read_at
        checkpoint = read_until - self._checkpoint_written >= CHECKPOINT_SECONDS
        if not grouped and not checkpoint:
            return
        position = datetime.fromtimestamp(read_until, UTC).isoformat()
        for attempt in range(3):
            try:
                async with self._database.unit_of_work() as session:
                    for account_id, events in grouped.items():
                        await store_raw_events(session, account_id, STREAM, events)
                    for account_id, posts in billed.items():
                        await usage.flush(session, account_id, {POST_READ: (0, posts)})
                    if checkpoint:
                        for account in self._app.accounts:
                            await write_cursor(session, account.id, STREAM, position)
                break
            except Exception as exc:
                log.warning("storing %d stream lines failed (%s)", len(batch), type(exc).__name__)
                if attempt == 2:
                    await self._store_each_account(grouped)
                    return
                await asyncio.sleep(0.5 * 2**attempt)
        if checkpoint:
            self._checkpoint_written = read_until
        if grouped:
            self.status.stored += sum(len(events) for events in grouped.values())
            self._on_stored()

    async def _store_each_account(self, grouped: Mapping[int, list[RawEvent]]) -> None:
        """Last resort: one transaction per account, so one bad account (e.g. deleted) loses only its own
        lines; mentions polling brings those back if they were mentions. No checkpoint is written."""
        for account_id, events in grouped.items():
            try:
                async with self._database.unit_of_work() as session:
                    await store_raw_events(session, account_id, STREAM, events)
            except Exception:
                log.exception("dropping %d stream events of account %s", len(events), account_id)
                continue
            self.status.stored += len(events)
        self._on_stored()

    async def _load_checkpoint(self) -> float | None:
        """The newest checkpoint an earlier run of this app's stream stored, as a wall time."""
        ids = [account.id for account in self._app.accounts]
        try:
            async with self._database.reader() as session:
                positions = (
                    await session.scalars(
                        select(ChannelCursor.position).where(
                            ChannelCursor.channel_account_id.in_(ids), ChannelCursor.stream == STREAM
                        )
                    )
                ).all()
        except Exception as exc:
            log.warning("cannot read the stream checkpoint of %s: %s", self._app.key, type(exc).__name__)
            return None
        times = []
        for position in positions:
            with contextlib.suppress(ValueError, OverflowError):
                times.append(datetime.fromisoformat(position).timestamp())
        return max(times, default=None)


# --- The supervisor ----------------------------------------------------------------------------------


@dataclass
class _Running:
    consumer: StreamConsumer
    task: asyncio.Task[None]


class StreamSupervisor:
    """Keeps one consumer per app that has streaming accounts, in step with the configuration."""

    def __init__(
        self,
        database: Database,
        cipher: FieldCipher,
        options: StreamOptions | None = None,
        *,
        on_stored: Callable[[], None] = lambda: None,
        interval: float = 5.0,
    ) -> None:
        self._database = database
        self._cipher = cipher
        self._options = options or StreamOptions()
        self._on_stored = on_stored
        self._interval = interval
        self._running: dict[AppKey, _Running] = {}

    @property
    def consumers(self) -> dict[AppKey, StreamConsumer]:
        return {key: running.consumer for key, running in self._running.items()}

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.refresh()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("the stream supervisor failed to refresh; continuing")
                await asyncio.sleep(self._interval)
        finally:
            await self.stop()

    async def refresh(self) -> None:
        async with self._database.reader() as session:
            accounts = (
                await session.scalars(
                    select(ChannelAccount).where(
                        ChannelAccount.active.is_(True), ChannelAccount.kind == ChannelKind.X
                    )
                )
            ).all()
        apps = stream_apps(accounts, self._cipher)
        for key in [key for key in self._running if key not in apps]:
            await self._stop(key)
        for key, app in apps.items():
            running = self._running.get(key)
            if running is not None and running.task.done():
                if running.consumer.app == app and running.consumer.status.stopped:
                    continue  # refused by X; wait for a configuration change
                await self._stop(key)
                running = None
            elif running is not None and running.consumer.app.credentials != app.credentials:
                await self._stop(key)
                running = None
            if running is None:
                self._start(app)
            elif running.consumer.app != app:
                running.consumer.update(app)

    def _start(self, app: StreamApp) -> None:
        consumer = StreamConsumer(self._database, app, self._options, on_stored=self._on_stored)
        task = asyncio.create_task(consumer.run(), name=f"haven-stream {app.key}")
        self._running[app.key] = _Running(consumer, task)
        log.info("streaming %s for %d account(s)", app.key, len(app.accounts))

    async def _stop(self, key: AppKey) -> None:
        running = self._running.pop(key)
        running.task.cancel()
        try:
            await running.task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the stream consumer of %s had failed", key)
        log.info("stopped streaming %s", key)

    async def stop(self) -> None:
        for key in list(self._running):
            await self._stop(key)
