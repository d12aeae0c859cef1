"""Console pages: login, inbox, conversation, the agent's availability. Every state change is a
CSRF-checked form post."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.agents.service import set_availability
from haven.audit.service import record
from haven.conversations import repository, service
from haven.conversations.repository import InboxFilters, InboxSort, InboxView, default_sort
from haven.kit.actor import ANONYMOUS, Actor
from haven.kit.errors import HavenError
from haven.messages.service import retry_delivery, send_reply
from haven.models import Agent, Availability, Visibility
from haven.security.csrf import check_csrf
from haven.security.passwords import verify_password
from haven.security.sessions import SESSION_COOKIE, end_session, start_session
from haven.security.throttle import SlidingWindowLimiter
from haven.triage.intents import INTENTS, IntentGroup, intent_label
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.routing import brand_teams
from haven.web.auth import console_actor, console_agent
from haven.web.conversation_view import agent_load, conversation_context, inbox_rows, timeline_context
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


class InboxQuery:
    """The inbox's view, sort and filters, read from the query string.

    A bad view or sort is refused (422); a bad filter is ignored with a message, so a stale link
    still opens the inbox. Links and the filter form carry the same parameters.
    """

    def __init__(self, request: Request, view: InboxView, sort: InboxSort | None) -> None:
        self.view = view
        #: The sort the agent chose, if any (each view has its own default).
        self.chosen_sort = sort
        self.sort = sort or default_sort(view)
        self.filters, self.problems = InboxFilters.lenient(request.query_params)

    def url(self, path: str = "/inbox", *, view: InboxView | None = None) -> str:
        params = {"view": (view or self.view).value}
        if self.chosen_sort is not None:
            params["sort"] = self.chosen_sort.value
        return f"{path}?{urlencode({**params, **self.filters.as_params()})}"


def _inbox_query(
    request: Request,
    view: Annotated[InboxView, Query()] = InboxView.OPEN,
    sort: Annotated[InboxSort | None, Query()] = None,
) -> InboxQuery:
    return InboxQuery(request, view, sort)


InboxQueryDep = Annotated[InboxQuery, Depends(_inbox_query)]

#: The filter form's choices.
FILTER_CHOICES = {
    "priorities": [1, 2, 3, 4],
    "groups": [(group.value, group.value.replace("_", " ").capitalize()) for group in IntentGroup],
    "intents": sorted(((name, intent_label(name)) for name in INTENTS), key=lambda item: item[1]),
    "languages": sorted(LANGUAGE_NAMES.items(), key=lambda item: item[1]),
    "sla": [("breached", "Breached"), ("at_risk", "At risk")],
}


async def _inbox_context(session: AsyncSession, actor: Actor, query: InboxQuery) -> dict[str, Any]:
    agent = actor.agent
    assert agent is not None
    conversations = await repository.list_conversations(
        session, actor, view=query.view, filters=query.filters, sort=query.sort
    )
    return {
        "agent": agent,
        "query": query,
        "rows": await inbox_rows(session, agent, conversations),
        "teams": {team.id: team.name for team in await brand_teams(session, agent.brand_id)},
    }


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, session: SessionDep, query: InboxQueryDep) -> Response:
    actor = await console_actor(session, request)
    context = await _inbox_context(session, actor, query)
    assert actor.agent is not None
    context.update(
        views=list(InboxView),
        sorts=[(InboxSort.URGENT, "Most urgent"), (InboxSort.NEWEST, "Newest")],
        choices=FILTER_CHOICES,
        load=await agent_load(session, actor.agent),
    )
    return render(request, "inbox.html", context)


@router.get("/inbox/rows", response_class=HTMLResponse)
async def inbox_rows_fragment(request: Request, session: SessionDep, query: InboxQueryDep) -> Response:
    """The inbox list alone, fetched by the console script when an event says it changed."""
    actor = await console_actor(session, request)
    return render(request, "_inbox_rows.html", await _inbox_context(session, actor, query))


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await service.mark_picked_up(session, actor, conversation)
    return render(request, "conversation.html", await conversation_context(session, actor, conversation))


@router.get("/conversations/{conversation_id}/timeline", response_class=HTMLResponse)
async def conversation_timeline(request: Request, session: SessionDep, conversation_id: int) -> Response:
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    return render(request, "_timeline.html", await timeline_context(session, conversation))


@router.get("/conversations/{conversation_id}/triage", response_class=HTMLResponse)
async def conversation_triage(request: Request, session: SessionDep, conversation_id: int) -> Response:
    """The triage panel alone, refreshed with the timeline when the conversation changes."""
    actor = await console_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    return render(request, "_triage_panel.html", await timeline_context(session, conversation))


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
    try:
        await send_reply(session, actor, conversation, text=text, visibility=visibility)
    except HavenError as refused:
        # send_reply checks everything before it writes: show why, and keep the agent's draft.
        context = await conversation_context(session, actor, conversation)
        context.update(reply_error=refused.message, draft=text, draft_visibility=visibility.value)
        return render(request, "conversation.html", context, refused.status_code)
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


def _local_path(value: str | None) -> str:
    """Where to go back to after a header form: a path on this site, else the inbox."""
    if value is None or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/inbox"
    return value if value.isprintable() else "/inbox"


@router.post("/me/availability", dependencies=[CsrfChecked])
async def availability(
    request: Request,
    session: SessionDep,
    value: Annotated[Availability, Form(alias="availability")],
    back: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
) -> Response:
    actor = await console_actor(session, request)
    await set_availability(session, actor, value)
    return RedirectResponse(_local_path(back), status_code=303)


@router.get("/me/load", response_class=HTMLResponse)
async def load_fragment(request: Request, session: SessionDep) -> Response:
    """The header's "open conversations / capacity", fetched by the console script when work moves."""
    agent = await console_agent(session, request)
    return render(request, "_load.html", {"agent": agent, "load": await agent_load(session, agent)})
