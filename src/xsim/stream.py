"""The filtered stream's machinery: the app's one connection slot and what a connection writes.

Tweets reach the open connection through the store's listener (:meth:`StreamHub._on_event`), which
only matches the rules and enqueues, as the store requires; the connection's own task renders each
tweet with :mod:`xsim.render` and writes it as one NDJSON line ending in ``\\r\\n``. After
``stream_keepalive_seconds`` without a line it writes an empty ``\\r\\n`` keep-alive.

Stream faults (``duplicate_rate``, ``reorder_rate``, ``stream_disconnect_rate``, see
:mod:`xsim.faults`) are applied line by line as the connection writes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from xsim.connection import drop_connection, wait_for_disconnect
from xsim.errors import JSON, PROBLEMS
from xsim.faults import Faults
from xsim.params import Selection
from xsim.render import tweet_document
from xsim.rules import RuleBook, StreamRule
from xsim.store import Store, StoreEvent, Tweet, TweetCreated

CutMode = Literal["error", "drop"]

KEEPALIVE = b"\r\n"
OPERATIONAL_DISCONNECT: JSON = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "UpstreamOperationalDisconnect",
            "detail": "This stream has been disconnected upstream for operational reasons.",
            "type": PROBLEMS + "operational-disconnect",
        }
    ]
}
TOO_MANY_CONNECTIONS: JSON = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": PROBLEMS + "streaming-connection",
}


def ndjson_line(document: JSON) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\r\n"


@dataclass(frozen=True, slots=True)
class _Delivery:
    tweet: Tweet
    rules: tuple[StreamRule, ...]


@dataclass(frozen=True, slots=True)
class _Cut:
    mode: CutMode


class StreamConnection:
    """One open ``GET /2/tweets/search/stream``: its queue, and the task loop that writes it."""

    def __init__(
        self,
        hub: StreamHub,
        *,
        selection: Selection,
        keepalive_seconds: Callable[[], float],
        backfill: list[_Delivery],
    ) -> None:
        self._hub = hub
        self._selection = selection
        self._keepalive_seconds = keepalive_seconds
        self._queue: asyncio.Queue[_Delivery | _Cut] = asyncio.Queue()
        for delivery in backfill:
            self._queue.put_nowait(delivery)
        #: Ids already queued as backfill, so that a tweet racing the connect is not sent twice.
        self._backfilled = {delivery.tweet.id for delivery in backfill}
        #: A line held back by a ``reorder`` fault, written after the next one (or on the next tick).
        self._held: bytes | None = None
        self.closed = asyncio.Event()

    @property
    def pending(self) -> int:
        """Tweets (and a cut, if requested) queued but not written yet."""
        return self._queue.qsize()

    def offer(self, delivery: _Delivery) -> None:
        if delivery.tweet.id in self._backfilled:
            self._backfilled.discard(delivery.tweet.id)
            return
        self._queue.put_nowait(delivery)

    def cut(self, mode: CutMode) -> None:
        """End the connection once the lines already queued are out."""
        self._queue.put_nowait(_Cut(mode))

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Start the response and write lines until cut or until the client goes away.

        The slot is freed however this ends.
        """
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            writer = asyncio.create_task(self._write_lines(send))
            watcher = asyncio.create_task(wait_for_disconnect(receive))
            try:
                await asyncio.wait((writer, watcher), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (writer, watcher):
                    task.cancel()
                await asyncio.gather(writer, watcher, return_exceptions=True)
        finally:
            self._hub.release(self)
        if writer.cancelled():
            return  # the client went away first
        error = writer.exception()
        if isinstance(error, OSError):
            return  # the server reports a vanished client this way
        if error is not None:
            raise error
        if writer.result() == "drop":
            await drop_connection(scope, receive)
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write_lines(self, send: Send) -> CutMode:
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=self._keepalive_seconds())
            except TimeoutError:
                if not await self._flush_held(send):
                    await self._write(send, KEEPALIVE)
                continue
            if isinstance(item, _Cut):
                await self._flush_held(send)
                return await self._end(send, item.mode)
            cut = await self._deliver(send, self._render(item))
            if cut is not None:
                return await self._end(send, cut)

    def _render(self, delivery: _Delivery) -> bytes:
        document = tweet_document(self._hub.store, delivery.tweet, self._selection)
        document["matching_rules"] = [rule.match_json() for rule in delivery.rules]
        return ndjson_line(document)

    async def _deliver(self, send: Send, line: bytes) -> CutMode | None:
        """Write one tweet line, with whatever stream faults are configured."""
        faults = self._hub.faults
        config = faults.config
        if self._held is None and faults.chance(config.reorder_rate):
            faults.record("reorder")
            self._held = line
            return None
        await self._write(send, line)
        if faults.chance(config.duplicate_rate):
            faults.record("duplicate")
            await self._write(send, line)
        await self._flush_held(send)
        if faults.chance(config.stream_disconnect_rate):
            faults.record("stream_disconnect")
            return "error" if faults.rng.random() < 0.5 else "drop"
        return None

    async def _flush_held(self, send: Send) -> bool:
        held, self._held = self._held, None
        if held is None:
            return False
        await self._write(send, held)
        return True

    async def _end(self, send: Send, mode: CutMode) -> CutMode:
        if mode == "error":
            await self._write(send, ndjson_line(OPERATIONAL_DISCONNECT))
        return mode

    async def _write(self, send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})
        if data == KEEPALIVE:
            self._hub.keepalives_sent += 1
        else:
            self._hub.lines_sent += 1


class StreamResponse(Response):
    """The endless chunked NDJSON body of one stream connection."""

    media_type = "application/json"

    def __init__(self, connection: StreamConnection) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache"})  # no body, so no content-length
        self._connection = connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._connection.serve(scope, receive, send, self.raw_headers)


class StreamHub:
    """The app's filtered-stream slot (one connection, as on X's standard tiers) and its counters."""

    def __init__(self, store: Store, rules: RuleBook, faults: Faults) -> None:
        self.store = store
        self.rules = rules
        self.faults = faults
        self._connection: StreamConnection | None = None
        #: Since the last reset: connections opened, tweet and error lines written, keep-alives.
        self.connections = 0
        self.lines_sent = 0
        self.keepalives_sent = 0
        store.subscribe(self._on_event)

    @property
    def connection(self) -> StreamConnection | None:
        return self._connection

    async def _on_event(self, event: StoreEvent) -> None:
        connection = self._connection
        if connection is None or not isinstance(event, TweetCreated):
            return
        matched = self.rules.matching(event.tweet, self.store.username_of)
        if matched:
            connection.offer(_Delivery(event.tweet, matched))

    def open(
        self, *, selection: Selection, keepalive_seconds: Callable[[], float], backfill_since: float | None
    ) -> StreamConnection | None:
        """Take the slot, or None if a connection is already open.

        With ``backfill_since`` (epoch seconds), live tweets created since then that match the rules
        are queued first, oldest first.
        """
        if self._connection is not None:
            return None
        backfill = []
        if backfill_since is not None:
            for tweet in self.store.tweets():
                if tweet.deleted or tweet.created_at.timestamp() < backfill_since:
                    continue
                matched = self.rules.matching(tweet, self.store.username_of)
                if matched:
                    backfill.append(_Delivery(tweet, matched))
        connection = StreamConnection(
            self, selection=selection, keepalive_seconds=keepalive_seconds, backfill=backfill
        )
        self._connection = connection
        self.connections += 1
        return connection

    def release(self, connection: StreamConnection) -> None:
        if self._connection is connection:
            self._connection = None
        connection.closed.set()

    async def disconnect(self, mode: CutMode, *, wait_seconds: float = 2.0) -> bool:
        """Cut the open connection, if any, and wait until it is closed; False if none was open.

        The slot is free when this returns, even if the connection's task is stuck writing.
        """
        connection = self._connection
        if connection is None:
            return False
        connection.cut(mode)
        try:
            await asyncio.wait_for(connection.closed.wait(), timeout=wait_seconds)
        except TimeoutError:
            self.release(connection)
        return True

    async def reset(self) -> None:
        await self.disconnect("drop")
        self.connections = self.lines_sent = self.keepalives_sent = 0
