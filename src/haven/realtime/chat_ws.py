"""The live chat's WebSockets: one protocol for the customer's side and the agent's side.

The server decides who hears what: a socket is bound to one chat when it opens (the customer's by
their chat cookie, the agent's by a permission-checked conversation) and subscribes to that chat's
topic only. Notices on the bus carry a sequence number, never text; each socket reads the events
after the last one it sent from the database. A reconnecting client passes ``after=<last seq it
saw>`` and gets exactly what it missed, once, in order.

Client → server: ``{"type": "message", "text": "…", "client_id": "…"}`` (``client_id`` is the
client's own id for the message, so a resend after a lost acknowledgement is stored once) and
``{"type": "typing"}``. Server → client: ``hello``, ``event`` (see ``ChatEventView``), ``typing``
and ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect, status
from sqlalchemy.ext.asyncio import AsyncSession

from haven.handoff.events import READ_BATCH, events_after
from haven.kit.errors import HavenError
from haven.models import Chat
from haven.realtime.events import RealtimeEvent, chat_topic, chat_typing
from haven.runtime import Runtime

log = logging.getLogger(__name__)

#: A frame longer than this is refused unread (the longest message is 4,000 characters).
MAX_FRAME = 20_000
#: How many messages a socket may send per second, on average, and in a burst.
MESSAGES_PER_SECOND = 5.0
MESSAGE_BURST = 10
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: How often an idle socket re-checks that its holder may still be there.
RECHECK_SECONDS = 30.0

#: Stores one message in a chat, inside the given transaction.
PostMessage = Callable[[AsyncSession, Chat, str, str], Awaitable[object]]
#: Whether the socket's holder may still use the chat (session not revoked, chat not deleted).
StillAllowed = Callable[[], Awaitable[bool]]


def parse_after(raw: str | None) -> int:
    """The last sequence number the client saw; anything unreadable means "from the start"."""
    if raw is None or not raw.isdigit() or len(raw) > 12:
        return 0
    return int(raw)


class _Bucket:
    """A token bucket: ``rate`` per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


@dataclass(slots=True)
class ChatSocket:
    websocket: WebSocket
    runtime: Runtime
    chat_id: int
    brand_id: int
    #: "customer" or "agent": whose words this socket carries.
    side: str
    post: PostMessage
    still_allowed: StillAllowed

    async def serve(self, after: int) -> None:
        subscription = self.runtime.bus.subscribe(chat_topic(self.chat_id))
        send_lock = asyncio.Lock()
        sent = after

        async def send(payload: dict[str, Any]) -> None:
            async with send_lock:
                await self.websocket.send_json(payload)

        async def catch_up() -> None:
            nonlocal sent
            while True:
                async with self.runtime.database.reader() as session:
                    views = await events_after(session, self.chat_id, sent)
                for view in views:
                    await send(view.as_json())
                    sent = view.seq
                if len(views) < READ_BATCH:
                    return

        await self.websocket.accept()
        await send({"type": "hello", "chat_id": self.chat_id, "side": self.side})
        receiver = asyncio.create_task(self._receive(send))
        loop = asyncio.get_running_loop()
        recheck_at = loop.time() + RECHECK_SECONDS
        getter: asyncio.Task[RealtimeEvent | None] | None = None
        try:
            await catch_up()
            while True:
                # Wait for the bus and for the client at once: a client that goes away ends the
                # handler now, not at the next notice.
                getter = getter or asyncio.create_task(subscription.get())
                done, _ = await asyncio.wait({receiver, getter}, timeout=5.0, return_when=FIRST_COMPLETED)
                if receiver in done:
                    break
                event = None
                if getter in done:
                    event, getter = getter.result(), None
                if subscription.closed:
                    break
                if loop.time() >= recheck_at:
                    if not await self.still_allowed():
                        await self.websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="signed out")
                        return
                    recheck_at = loop.time() + RECHECK_SECONDS
                if event is None:
                    continue
                if event.type == "chat.event" and event.data.get("seq", 0) > sent:
                    await catch_up()
                elif event.type == "chat.typing" and event.data.get("from") != self.side:
                    await send({"type": "typing", "from": event.data.get("from")})
        except WebSocketDisconnect:
            pass
        finally:
            for task in (receiver, getter):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
            subscription.close()

    async def _receive(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        bucket = _Bucket(MESSAGES_PER_SECOND, MESSAGE_BURST)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                frame = await self.websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    return
                raw = frame.get("text") or frame.get("bytes") or ""
                if len(raw) > MAX_FRAME:
                    log.warning("chat %s: %s sent an oversized frame (%d)", self.chat_id, self.side, len(raw))
                    await send({"type": "error", "detail": "the message is too large"})
                    await self.websocket.close(code=status.WS_1009_MESSAGE_TOO_BIG)
                    return
                await self._handle(raw, bucket, send)

    async def _handle(
        self, raw: str | bytes, bucket: _Bucket, send: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await send({"type": "error", "detail": "not a JSON message"})
            return
        if not isinstance(request, dict):
            await send({"type": "error", "detail": "not a JSON object"})
            return
        kind = request.get("type")
        if kind == "typing":
            await self.runtime.bus.publish(chat_typing(self.brand_id, self.chat_id, self.side))
            return
        if kind != "message":
            await send({"type": "error", "detail": "unknown message type"})
            return
        text, client_id = request.get("text"), request.get("client_id")
        if not isinstance(text, str) or not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
            await send({"type": "error", "detail": "a message needs a text and a client_id"})
            return
        if not bucket.take():
            await send({"type": "error", "detail": "too many messages; slow down", "client_id": client_id})
            return
        try:
            async with self.runtime.database.unit_of_work() as session:
                chat = await session.get_one(Chat, self.chat_id)
                await self.post(session, chat, text, client_id)
        except HavenError as exc:
            await send({"type": "error", "detail": exc.message, "client_id": client_id})
