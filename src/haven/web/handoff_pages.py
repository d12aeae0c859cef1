"""The agent's side of the secure handoff: invite, chat, ask for a secure form, reveal, end."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request, WebSocket, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from haven.conversations import repository
from haven.handoff.chat import end_chat
from haven.handoff.forms import request_form, reveal
from haven.handoff.invitations import invite, live_chat_of
from haven.kit.actor import Actor
from haven.kit.errors import Conflict, HavenError, NotFound
from haven.messages.service import send_reply
from haven.models import Agent, Chat, Conversation, SecureForm, Visibility
from haven.realtime.chat_ws import ChatSocket, parse_after
from haven.realtime.origin import origin_allowed
from haven.runtime import Runtime
from haven.security.sessions import SESSION_COOKIE, agent_for_session
from haven.web.auth import console_actor
from haven.web.conversation_view import conversation_context
from haven.web.deps import RuntimeDep, SessionDep
from haven.web.pages import CsrfChecked
from haven.web.render import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def _back(conversation_id: int) -> RedirectResponse:
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/handoff", dependencies=[CsrfChecked])
async def hand_off(
    request: Request, runtime: RuntimeDep, session: SessionDep, conversation_id: int
) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await invite(session, actor, conversation, runtime.settings)
    return _back(conversation_id)


async def _live_chat(session: AsyncSession, conversation: Conversation) -> Chat:
    chat = await live_chat_of(session, conversation.id)
    if chat is None:
        raise Conflict("there is no live secure chat in this conversation")
    return chat


@router.post("/conversations/{conversation_id}/chat/end", dependencies=[CsrfChecked])
async def end(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await end_chat(session, actor, await _live_chat(session, conversation))
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/chat/forms", dependencies=[CsrfChecked])
async def ask_for_form(
    request: Request,
    session: SessionDep,
    conversation_id: int,
    fields: Annotated[list[str], Form(max_length=10)],
) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await request_form(session, actor, await _live_chat(session, conversation), fields)
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/forms/{form_id}/reveal", dependencies=[CsrfChecked])
async def reveal_form(
    request: Request, runtime: RuntimeDep, session: SessionDep, conversation_id: int, form_id: int
) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    form = await session.get(SecureForm, form_id)
    if form is None or form.conversation_id != conversation.id:
        raise NotFound("no such form in this conversation")
    values = await reveal(session, actor, form, runtime.cipher)
    if values is None:
        return render(
            request,
            "error.html",
            {"status_code": 403, "detail": "Your role may not reveal secure values."},
            403,
        )
    context = await conversation_context(session, actor, conversation, revealed={form.id: values})
    return render(request, "conversation.html", context)


@router.websocket("/ws/chats/{chat_id}")
async def agent_socket(websocket: WebSocket, chat_id: int) -> None:
    runtime: Runtime = websocket.app.state.runtime
    token = websocket.cookies.get(SESSION_COOKIE)
    if not origin_allowed(websocket, runtime):
        log.warning("chat %s: refused an agent socket from a foreign origin", chat_id)
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    async with runtime.database.reader() as session:
        agent = await agent_for_session(session, token)
        chat = await session.get(Chat, chat_id)
        allowed = agent is not None and chat is not None and chat.brand_id == agent.brand_id
    if agent is None or chat is None or not allowed:
        log.warning("chat %s: refused an agent socket (not signed in or not this brand's chat)", chat_id)
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not allowed")
        return
    agent_id = agent.id

    async def still_allowed() -> bool:
        async with runtime.database.reader() as session:
            return await agent_for_session(session, token) is not None

    async def post(session: AsyncSession, chat: Chat, text: str, client_id: str) -> object:
        author = await session.get(Agent, agent_id)
        if author is None or not author.is_active:
            raise HavenError("your account is no longer active")
        actor = Actor.of(author, via="console")
        conversation = await repository.access_conversation(session, actor, chat.conversation_id)
        return await send_reply(
            session,
            actor,
            conversation,
            text=text,
            visibility=Visibility.PRIVATE,
            chat=chat,
            client_id=client_id,
        )

    socket = ChatSocket(websocket, runtime, chat.id, chat.brand_id, "agent", post, still_allowed)
    await socket.serve(parse_after(websocket.query_params.get("after")))


@router.get("/conversations/{conversation_id}/forms")
async def forms_fragment(request: Request, session: SessionDep, conversation_id: int) -> Response:
    """The secure forms alone, fetched by the console script when a form was asked for or answered."""
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    return render(request, "_forms.html", await conversation_context(session, actor, conversation))
