"""The console's WebSocket: change notices for the agent's own brand, nothing else.

The browser proves who it is with its session cookie, and its ``Origin`` must be this site, so that
another site cannot open a socket with the agent's cookie (cross-site WebSocket hijacking).
Notices carry ids only; the console fetches what changed through the ordinary, permission-checked
pages, so a notice can never leak content.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from haven.realtime.origin import origin_allowed
from haven.runtime import Runtime
from haven.security.sessions import SESSION_COOKIE, agent_for_session

router = APIRouter()

#: How often the socket re-checks that the session is still valid (logout, expiry, deactivation).
RECHECK_SECONDS = 60.0


#: Event families a console is told about; the rest (outbox wake-ups …) are for workers.
CONSOLE_EVENTS = ("conversation.", "alert.")


async def _session_alive(runtime: Runtime, token: str | None) -> int | None:
    async with runtime.database.unit_of_work() as session:
        agent = await agent_for_session(session, token)
        return agent.brand_id if agent else None


@router.websocket("/ws/console")
async def console_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    token = websocket.cookies.get(SESSION_COOKIE)
    if not origin_allowed(websocket, runtime):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    brand_id = await _session_alive(runtime, token)
    if brand_id is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not signed in")
        return
    subscription = runtime.bus.subscribe()
    await websocket.accept()
    await websocket.send_json({"type": "hello"})
    loop = asyncio.get_running_loop()
    recheck_at = loop.time() + RECHECK_SECONDS
    receiver = asyncio.create_task(_drain(websocket))
    try:
        while not receiver.done():
            try:
                event = await asyncio.wait_for(subscription.get(), timeout=5.0)
            except TimeoutError:
                event = None
            if subscription.closed:
                break
            if loop.time() >= recheck_at:
                if await _session_alive(runtime, token) != brand_id:
                    await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="signed out")
                    return
                recheck_at = loop.time() + RECHECK_SECONDS
            if event is not None and event.brand_id == brand_id and event.type.startswith(CONSOLE_EVENTS):
                await websocket.send_json({"type": event.type, **event.data})
    except WebSocketDisconnect:
        pass
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver
        subscription.close()


async def _drain(websocket: WebSocket) -> None:
    """Read and discard what the client sends; returns when the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
