"""Every query about conversations and their messages."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.kit.actor import Actor
from haven.kit.errors import NotFound
from haven.models import Conversation, ConversationStatus, Message


class InboxView(enum.StrEnum):
    OPEN = "open"
    MINE = "mine"
    UNASSIGNED = "unassigned"
    RESOLVED = "resolved"


def _brand_scope(actor: Actor) -> Select[Conversation]:
    if actor.agent is None:
        raise NotFound("conversation not found")
    return select(Conversation).where(Conversation.brand_id == actor.agent.brand_id)


async def access_conversation(session: AsyncSession, actor: Actor, conversation_id: int) -> Conversation:
    """Fetch a conversation the actor may see. Others' conversations are simply not found."""
    conversation = await session.scalar(_brand_scope(actor).where(Conversation.id == conversation_id))
    if conversation is None:
        raise NotFound("conversation not found")
    return conversation


async def list_conversations(
    session: AsyncSession,
    actor: Actor,
    *,
    view: InboxView = InboxView.OPEN,
    limit: int = 50,
    before_id: int | None = None,
    by_id: bool = False,
) -> Sequence[Conversation]:
    """Newest activity first; ``by_id`` orders by id instead, for stable pages with ``before_id``."""
    query = _brand_scope(actor)
    if view is InboxView.RESOLVED:
        query = query.where(Conversation.status == ConversationStatus.RESOLVED)
    else:
        query = query.where(Conversation.status == ConversationStatus.OPEN)
    if view is InboxView.MINE:
        query = query.where(Conversation.assignee_id == actor.agent_id)
    elif view is InboxView.UNASSIGNED:
        query = query.where(Conversation.assignee_id.is_(None))
    if before_id is not None:
        query = query.where(Conversation.id < before_id)
    if by_id:
        query = query.order_by(Conversation.id.desc())
    else:
        query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    return (await session.scalars(query.limit(limit))).unique().all()


async def list_messages(session: AsyncSession, conversation: Conversation) -> Sequence[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.created_at, Message.id)
    )
    return (await session.scalars(query)).unique().all()


async def conversation_for_thread(
    session: AsyncSession, *, channel_account_id: int, thread_key: str
) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(
            Conversation.channel_account_id == channel_account_id,
            Conversation.thread_key == thread_key,
        )
    )


async def open_conversation_of_contact(
    session: AsyncSession, *, channel_account_id: int, contact_id: int
) -> Conversation | None:
    """The contact's most recently active open conversation on this account, if any."""
    return await session.scalar(
        select(Conversation)
        .where(
            Conversation.channel_account_id == channel_account_id,
            Conversation.contact_id == contact_id,
            Conversation.status == ConversationStatus.OPEN,
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
