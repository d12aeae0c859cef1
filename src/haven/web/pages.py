"""Console pages: login, inbox, conversation. Every state change is a CSRF-checked form post."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import StringConstraints
from sqlalchemy import func, select

from haven.audit.service import record
from haven.conversations import repository, service
from haven.conversations.repository import InboxView
from haven.kit.actor import ANONYMOUS, Actor
from haven.messages.service import retry_delivery, send_reply
from haven.models import Agent, Visibility
from haven.security.csrf import check_csrf
from haven.security.passwords import verify_password
from haven.security.sessions import SESSION_COOKIE, end_session, start_session
from haven.security.throttle import SlidingWindowLimiter
from haven.web.auth import console_actor
from haven.web.conversation_view import conversation_context
from haven.web.deps import RuntimeDep, SessionDep
from haven.web.render import render

Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
Password = Annotated[str, StringConstraints(max_length=1024)]
ReplyText = Annotated[str, StringConstraints(max_length=10_000)]


async def csrf_protected(request: Request, runtime: RuntimeDep) -> None:
    await check_csrf(request, frozenset({runtime.settings.public_base_url}))


router = APIRouter(include_in_schema=False)
CsrfChecked = Depends(csrf_protected)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login", dependencies=[CsrfChecked], response_class=HTMLResponse)
async def login(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    email: Annotated[Email, Form()],
    password: Annotated[Password, Form()],
) -> Response:
    limiter: SlidingWindowLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    keys = (f"ip:{client}", f"email:{email.lower()}")
    if not limiter.allowed(*keys):
        message = "Too many attempts. Wait a few minutes and try again."
        return render(request, "login.html", {"error": message, "email": email}, 429)
    agent = await session.scalar(select(Agent).where(func.lower(Agent.email) == email.lower()))
    # Argon2 is deliberately slow: keep it off the event loop that serves everyone else.
    password_ok = await asyncio.to_thread(verify_password, agent.password_hash if agent else None, password)
    if agent is None or not password_ok or not agent.is_active:
        limiter.hit(*keys)
        if agent is not None:
            record(session, ANONYMOUS, "agent.login_failed", "agent", agent.id)
        message = "Wrong e-mail or password."
        return render(request, "login.html", {"error": message, "email": email}, 401)
    limiter.clear(keys[1])
    ttl = timedelta(minutes=runtime.settings.session_ttl_minutes)
    token = await start_session(session, agent, ttl)
    record(session, Actor.of(agent), "agent.login", "agent", agent.id)
    response = RedirectResponse("/inbox", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=runtime.settings.cookie_secure,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[CsrfChecked])
async def logout(request: Request, session: SessionDep) -> Response:
    await end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(
    request: Request, session: SessionDep, view: Annotated[InboxView, Query()] = InboxView.OPEN
) -> Response:
    actor = await console_actor(session, request)
    conversations = await repository.list_conversations(session, actor, view=view)
    context = {
        "agent": actor.agent,
        "view": view,
        "views": list(InboxView),
        "conversations": conversations,
    }
    return render(request, "inbox.html", context)


@router.get("/inbox/rows", response_class=HTMLResponse)
async def inbox_rows(
    request: Request, session: SessionDep, view: Annotated[InboxView, Query()] = InboxView.OPEN
) -> Response:
    """The inbox list alone, fetched by the console script when an event says it changed."""
    actor = await console_actor(session, request)
    conversations = await repository.list_conversations(session, actor, view=view)
    return render(request, "_inbox_rows.html", {"agent": actor.agent, "conversations": conversations})


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    return render(request, "conversation.html", await conversation_context(session, actor, conversation))


@router.get("/conversations/{conversation_id}/timeline", response_class=HTMLResponse)
async def conversation_timeline(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    messages = await repository.list_messages(session, conversation)
    return render(request, "_timeline.html", {"conversation": conversation, "messages": messages})


@router.post("/conversations/{conversation_id}/reply", dependencies=[CsrfChecked])
async def reply(
    request: Request,
    session: SessionDep,
    conversation_id: int,
    text: Annotated[ReplyText, Form()],
    visibility: Annotated[Visibility, Form()],
) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await send_reply(session, actor, conversation, text=text, visibility=visibility)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/messages/{message_id}/retry", dependencies=[CsrfChecked])
async def retry(request: Request, session: SessionDep, conversation_id: int, message_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await retry_delivery(session, actor, conversation, message_id)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/assign", dependencies=[CsrfChecked])
async def assign(
    request: Request,
    session: SessionDep,
    conversation_id: int,
    assignee_id: Annotated[int | None, Form()] = None,
) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await service.assign(session, actor, conversation, assignee_id)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/resolve", dependencies=[CsrfChecked])
async def resolve(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await service.resolve(session, actor, conversation)
    return RedirectResponse("/inbox", status_code=303)


@router.post("/conversations/{conversation_id}/reopen", dependencies=[CsrfChecked])
async def reopen(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await service.reopen(session, actor, conversation)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
