"""The API's routes. Thin: they authenticate, call the same services as the console, and shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from haven.agents.service import set_availability
from haven.api.schemas import (
    AgentStatusOut,
    AssignIn,
    AvailabilityIn,
    ConversationDetail,
    ConversationOut,
    ConversationPage,
    ErrorOut,
    InvitationOut,
    MessageOut,
    ReplyIn,
)
from haven.conversations import repository, service
from haven.conversations.repository import InboxFilters, InboxView
from haven.handoff.invitations import invite
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.messages.service import retry_delivery, send_reply
from haven.models import Conversation, ConversationStatus
from haven.triage.policy import load_policy
from haven.web.auth import api_actor
from haven.web.conversation_view import agent_load
from haven.web.deps import RuntimeDep, SessionDep

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid token"},
    404: {"model": ErrorOut, "description": "No such conversation for this token"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}

router = APIRouter(prefix="/api/v1", tags=["conversations"], responses=ERRORS)


async def _out(
    session: AsyncSession, actor: Actor, conversations: list[Conversation]
) -> list[ConversationOut]:
    """Conversations as the API shows them, with their SLA clocks under the brand's policy."""
    assert actor.agent is not None  # api_actor gives agents only
    policy = await load_policy(session, actor.agent.brand_id)
    now = utcnow()
    return [ConversationOut.of(conversation, policy, now) for conversation in conversations]


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    request: Request,
    session: SessionDep,
    filters: Annotated[InboxFilters, Query()],
    status_filter: Annotated[ConversationStatus, Query(alias="status")] = ConversationStatus.OPEN,
    assignee: Annotated[str | None, Query(pattern="^(me|none)$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> ConversationPage:
    """Conversations of the token owner's brand. Pages by id, newest first.

    Filters combine: ``priority`` (1–4), ``intent`` (a BANKING77 name) or ``intent_group``,
    ``language``, ``sla`` (``breached`` or ``at_risk``: the state of the clock the conversation works
    against now), ``escalated`` and ``private_data`` (true or false). An unknown value is a 422.
    """
    actor = await api_actor(session, request)
    view = InboxView.RESOLVED if status_filter is ConversationStatus.RESOLVED else InboxView.OPEN
    if view is InboxView.OPEN and assignee == "me":
        view = InboxView.MINE
    elif view is InboxView.OPEN and assignee == "none":
        view = InboxView.UNASSIGNED
    rows = await repository.list_conversations(
        session, actor, view=view, filters=filters, limit=limit, before_id=before_id, by_id=True
    )
    return ConversationPage(
        data=await _out(session, actor, list(rows)),
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(request: Request, session: SessionDep, conversation_id: int) -> ConversationDetail:
    actor = await api_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    messages = await repository.list_messages(session, conversation)
    assert actor.agent is not None
    policy = await load_policy(session, actor.agent.brand_id)
    return ConversationDetail.with_messages(conversation, list(messages), policy, utcnow())


@router.post(
    "/conversations/{conversation_id}/replies",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_reply(
    request: Request, session: SessionDep, conversation_id: int, body: ReplyIn
) -> MessageOut:
    """Queue a reply. ``public`` is a reply on the conversation's network (a tweet on X), ``private``
    reaches only the customer (a DM on X), ``internal`` is a note for agents."""
    actor = await api_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    message = await send_reply(session, actor, conversation, text=body.text, visibility=body.visibility)
    return MessageOut.model_validate(message)


@router.post("/conversations/{conversation_id}/messages/{message_id}/retry", response_model=MessageOut)
async def retry_message(
    request: Request, session: SessionDep, conversation_id: int, message_id: int
) -> MessageOut:
    """Queue a failed delivery again; 409 unless the message's delivery failed."""
    actor = await api_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    message = await retry_delivery(session, actor, conversation, message_id)
    return MessageOut.model_validate(message)


@router.post("/conversations/{conversation_id}/assign", response_model=ConversationOut)
async def assign_conversation(
    request: Request, session: SessionDep, conversation_id: int, body: AssignIn
) -> ConversationOut:
    actor = await api_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await service.assign(session, actor, conversation, body.assignee_id)
    return (await _out(session, actor, [conversation]))[0]


@router.post("/conversations/{conversation_id}/resolve", response_model=ConversationOut)
async def resolve_conversation(
    request: Request, session: SessionDep, conversation_id: int
) -> ConversationOut:
    actor = await api_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    await service.resolve(session, actor, conversation)
    return (await _out(session, actor, [conversation]))[0]


@router.post(
    "/conversations/{conversation_id}/handoff",
    response_model=InvitationOut,
    status_code=status.HTTP_201_CREATED,
)
async def hand_off(
    request: Request, runtime: RuntimeDep, session: SessionDep, conversation_id: int
) -> InvitationOut:
    """Invite the customer to the secure chat: a single-use, expiring link sent by DM where the
    customer has written privately, else as a public reply. 409 while a chat is live."""
    actor = await api_actor(session, request)
    conversation = await repository.access_conversation(session, actor, conversation_id)
    sent = await invite(session, actor, conversation, runtime.settings)
    return InvitationOut(
        id=sent.invitation.id,
        expires_at=sent.invitation.expires_at,
        sent_as=sent.message.visibility,
        message=MessageOut.model_validate(sent.message),
    )


@router.get("/me", response_model=AgentStatusOut, tags=["agents"])
async def me(request: Request, session: SessionDep) -> AgentStatusOut:
    """Who the token acts as: id, availability, capacity and current load."""
    actor = await api_actor(session, request)
    assert actor.agent is not None
    return AgentStatusOut.of(actor.agent, await agent_load(session, actor.agent))


@router.post("/me/availability", response_model=AgentStatusOut, tags=["agents"])
async def change_availability(request: Request, session: SessionDep, body: AvailabilityIn) -> AgentStatusOut:
    """Go ``online`` (routing may give you conversations, up to your capacity) or ``away``."""
    actor = await api_actor(session, request)
    agent = await set_availability(session, actor, body.availability)
    return AgentStatusOut.of(agent, await agent_load(session, agent))
