"""What the conversation page shows: the timeline, the composer's limits, and the secure handoff."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.capabilities import capabilities
from haven.conversations import repository
from haven.handoff.fields import FIELD_SPECS
from haven.handoff.forms import forms_of_conversation, may_reveal
from haven.handoff.invitations import problem_with
from haven.kit.actor import Actor
from haven.models import ChannelAccount, ChannelKind, Chat, ChatInvitation, ChatStatus, Conversation


async def conversation_context(
    session: AsyncSession,
    actor: Actor,
    conversation: Conversation,
    *,
    revealed: dict[int, dict[str, str]] | None = None,
) -> dict[str, Any]:
    messages = await repository.list_messages(session, conversation)
    account = await session.get_one(ChannelAccount, conversation.channel_account_id)
    chats = (
        await session.scalars(select(Chat).where(Chat.conversation_id == conversation.id).order_by(Chat.id))
    ).all()
    live_chat = next((chat for chat in chats if chat.status is ChatStatus.LIVE), None)
    invitation = await session.scalar(
        select(ChatInvitation)
        .where(ChatInvitation.conversation_id == conversation.id)
        .order_by(ChatInvitation.id.desc())
        .limit(1)
    )
    return {
        "agent": actor.agent,
        "conversation": conversation,
        "messages": messages,
        "limits": {v.value: n for v, n in capabilities(account.kind).max_length.items()},
        "can_hand_off": account.kind is not ChannelKind.WEBCHAT and live_chat is None,
        "live_chat": live_chat,
        "invitation": invitation,
        "invitation_problem": problem_with(invitation) if invitation else None,
        "forms": await forms_of_conversation(session, conversation.id),
        "field_specs": list(FIELD_SPECS.values()),
        "may_reveal": may_reveal(actor.agent),
        "revealed": revealed or {},
    }
