"""The console's WebSocket: change notices for the agent's own brand, and who is in a conversation.

The browser proves who it is with its session cookie, and its ``Origin`` must be this site, so that
another site cannot open a socket with the agent's cookie (cross-site WebSocket hijacking).
Change notices carry ids only; the console fetches what changed through the ordinary,
permission-checked pages, so a notice can never leak content.

Presence (collision control). The console says where its agent is:
``{"type": "presence", "conversation_id": 12, "state": "viewing" | "typing" | "left"}`` —
"viewing" when a conversation page opens and every 10 s while it stays open, "typing" at most
every 2 s while the agent writes, "left" when the page goes. The server checks that the agent may
see the conversation (brand scope), limits the rate, and relays
``{"type": "presence", "conversation_id", "agent_id", "name", "state", "socket"}`` to the brand's
other agents whose consoles are on that conversation. Nothing is stored: a console forgets an
entry it has not heard again within ``PRESENCE_TTL_SECONDS`` (sent in ``hello``), and a socket that
closes says "left" for its agent. A console's first word on a conversation is marked ``joined``,
and the consoles already there answer it with their own state, so a newcomer sees them at once.
Frames that are too large close the socket; malformed ones get an ``error`` frame and are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from asyncio import FIRST_COMPLETED
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from haven.conversations.repository import access_conversation
from haven.kit.actor import Actor
from haven.kit.errors import NotFound
from haven.models import Agent
from haven.realtime.events import PRESENCE, RealtimeEvent, presence
from haven.realtime.origin import origin_allowed
from haven.runtime import Runtime
from haven.security.sessions import SESSION_COOKIE, agent_for_session
from haven.security.throttle import SlidingWindowLimiter

log = logging.getLogger(__name__)
router = APIRouter()

#: How often the socket re-checks that the session is still valid (logout, expiry, deactivation).
RECHECK_SECONDS = 60.0
#: Event families a console is told about; the rest (outbox wake-ups …) are for workers.
CONSOLE_EVENTS = ("conversation.", "alert.")
#: A presence frame is a few dozen characters; anything longer than this closes the socket.
MAX_FRAME = 1_000
#: Frames a console may send per window; the client needs about four per ten seconds.
FRAMES_PER_WINDOW = 20
FRAME_WINDOW_SECONDS = 10.0
#: A console forgets a presence it has not heard again within this time.
PRESENCE_TTL_SECONDS = 30
STATES = frozenset({"viewing", "typing", "left"})
#: How many conversations a socket remembers as allowed, so that refreshes need no query.
ALLOWED_CACHE = 64
_MAX_ID = 2**63 - 1


async def _signed_in(runtime: Runtime, token: str | None) -> Agent | None:
    async with runtime.database.unit_of_work() as session:
        return await agent_for_session(session, token)


class _Refused(Exception):
    """A frame the server ignores; the message tells the client why."""


def _parse(raw: str | bytes) -> tuple[int, str]:
    """The conversation id and state of a presence frame, or _Refused."""
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _Refused("not a JSON message") from None
    if not isinstance(frame, dict) or frame.get("type") != PRESENCE:
        raise _Refused("unknown message type")
    conversation_id, state = frame.get("conversation_id"), frame.get("state")
    if type(conversation_id) is not int or not 1 <= conversation_id <= _MAX_ID or state not in STATES:
        raise _Refused("a presence message needs a conversation_id and a state: viewing, typing or left")
    return conversation_id, state


@dataclass(slots=True)
class _Console:
    websocket: WebSocket
    runtime: Runtime
    token: str | None
    agent_id: int
    brand_id: int
    name: str
    socket: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    #: The conversation this console is on, and the agent's state there ("viewing" or "typing").
    watching: int | None = None
    state: str = "left"
    allowed: set[int] = field(default_factory=set)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.send_lock:
            if not self.closed:
                await self.websocket.send_json(payload)

    async def close(self, code: int, reason: str) -> None:
        async with self.send_lock:
            if not self.closed:
                self.closed = True
                await self.websocket.close(code=code, reason=reason)

    async def serve(self) -> None:
        subscription = self.runtime.bus.subscribe()
        await self.websocket.accept()
        await self.send({"type": "hello", "presence_ttl": PRESENCE_TTL_SECONDS})
        receiver = asyncio.create_task(self._receive())
        loop = asyncio.get_running_loop()
        recheck_at = loop.time() + RECHECK_SECONDS
        getter: asyncio.Task[RealtimeEvent | None] | None = None
        try:
            while True:
                # Wait for the bus and the client at once: a client that goes away ends this now.
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
                    agent = await _signed_in(self.runtime, self.token)
                    if agent is None or agent.brand_id != self.brand_id:
                        await self.close(status.WS_1008_POLICY_VIOLATION, "signed out")
                        return
                    recheck_at = loop.time() + RECHECK_SECONDS
                if event is not None and event.brand_id == self.brand_id:
                    await self._forward(event)
        except WebSocketDisconnect:
            pass
        finally:
            for task in (receiver, getter):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
            subscription.close()
            if self.watching is not None:
                await self._publish(self.watching, "left", joined=False)

    async def _forward(self, event: RealtimeEvent) -> None:
        if event.type == PRESENCE:
            await self._relay(event.data)
        elif event.type.startswith(CONSOLE_EVENTS):
            await self.send({"type": event.type, **event.data})

    async def _relay(self, data: dict[str, Any]) -> None:
        """Another agent's presence on this console's conversation: pass it on, and answer a newcomer."""
        if self.watching is None or data.get("conversation_id") != self.watching:
            return
        if data.get("agent_id") == self.agent_id:
            return
        keys = ("conversation_id", "agent_id", "name", "state", "socket")
        await self.send({"type": PRESENCE, **{key: data.get(key) for key in keys}})
        if data.get("joined") and self.state != "left":
            await self._publish(self.watching, self.state, joined=False)

    async def _publish(self, conversation_id: int, state: str, *, joined: bool) -> None:
        event = presence(
            self.brand_id,
            conversation_id=conversation_id,
            agent_id=self.agent_id,
            name=self.name,
            state=state,
            socket=self.socket,
            joined=joined,
        )
        try:
            await self.runtime.bus.publish(event)
        except Exception:
            # Presence is a courtesy: a bus hiccup must not end the agent's console.
            log.warning("could not publish presence for conversation %s", conversation_id, exc_info=True)

    async def _receive(self) -> None:
        limiter = SlidingWindowLimiter(FRAMES_PER_WINDOW, FRAME_WINDOW_SECONDS)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                frame = await self.websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    return
                raw = frame.get("text") or frame.get("bytes") or ""
                if len(raw) > MAX_FRAME:
                    log.warning("console socket of agent %s sent an oversized frame", self.agent_id)
                    await self.close(status.WS_1009_MESSAGE_TOO_BIG, "frame too large")
                    return
                if not limiter.allowed("frames"):
                    continue  # presence is ephemeral: dropping a refresh costs nothing
                limiter.hit("frames")
                try:
                    await self._handle(*_parse(raw))
                except _Refused as refused:
                    await self.send({"type": "error", "detail": str(refused)})

    async def _handle(self, conversation_id: int, state: str) -> None:
        if state == "left":
            if conversation_id == self.watching:
                self.watching, self.state = None, "left"
                await self._publish(conversation_id, "left", joined=False)
            return
        if not await self._may_see(conversation_id):
            raise _Refused("no such conversation")
        joined = conversation_id != self.watching
        if joined and self.watching is not None:
            await self._publish(self.watching, "left", joined=False)
        self.watching, self.state = conversation_id, state
        await self._publish(conversation_id, state, joined=joined)

    async def _may_see(self, conversation_id: int) -> bool:
        if conversation_id in self.allowed:
            return True
        async with self.runtime.database.unit_of_work() as session:
            agent = await agent_for_session(session, self.token)
            if agent is None:
                return False
            try:
                await access_conversation(session, Actor.of(agent), conversation_id)
            except NotFound:
                return False
        if len(self.allowed) >= ALLOWED_CACHE:
            self.allowed.clear()
        self.allowed.add(conversation_id)
        return True


@router.websocket("/ws/console")
async def console_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    token = websocket.cookies.get(SESSION_COOKIE)
    if not origin_allowed(websocket, runtime):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    agent = await _signed_in(runtime, token)
    if agent is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not signed in")
        return
    console = _Console(websocket, runtime, token, agent.id, agent.brand_id, agent.display_name)
    await console.serve()
