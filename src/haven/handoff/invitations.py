"""Inviting a customer from a public thread into the bank's secure chat, and checking the link.

The invitation's token (256 random bits) exists only in the link: Haven keeps its SHA-256, so a
database reader cannot open chats. A link works once, for a limited time, for the X account it
was sent to, and locks after repeated wrong answers. The link itself travels the one outbound
path like every message: by DM where the customer has written to the bank privately (X lets a
brand answer those), else as a public reply, and its text holds nothing private.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.config import Settings
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.kit.errors import Conflict, Invalid
from haven.messages.service import send_reply
from haven.models import (
    Brand,
    ChannelAccount,
    ChannelKind,
    Chat,
    ChatInvitation,
    ChatStatus,
    Conversation,
    Direction,
    InvitationStatus,
    Message,
    Visibility,
)
from haven.security.secrets import new_token, token_hash

#: Where invitation links point, under the bank's public base URL.
INVITATION_PATH = "/chat/i/"
#: What a well-formed token looks like (``secrets.token_urlsafe(32)``); anything else is refused
#: before it reaches the database.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class LinkProblem(enum.Enum):
    """Why an invitation link cannot be used; each gets its own page."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class SentInvitation:
    invitation: ChatInvitation
    link: str
    message: Message


async def live_chat_of(session: AsyncSession, conversation_id: int) -> Chat | None:
    return await session.scalar(
        select(Chat).where(Chat.conversation_id == conversation_id, Chat.status == ChatStatus.LIVE)
    )


async def _customer_wrote_privately(session: AsyncSession, conversation: Conversation) -> bool:
    found = await session.scalar(
        select(Message.id)
        .where(
            Message.contact_id == conversation.contact_id,
            Message.channel_account_id == conversation.channel_account_id,
            Message.direction == Direction.INBOUND,
            Message.visibility == Visibility.PRIVATE,
        )
        .limit(1)
    )
    return found is not None


def invitation_text(brand_name: str, link: str, ttl_minutes: int) -> str:
    """The link's message: short enough for a reply tweet, and it tells how to check it is genuine."""
    host = urlsplit(link).netloc
    return (
        f"Let's continue privately in {brand_name}'s secure chat: {link} "
        f"(opens on {host}, works once, for {ttl_minutes} min). We never ask for your password or PIN."
    )


async def invite(
    session: AsyncSession, actor: Actor, conversation: Conversation, settings: Settings
) -> SentInvitation:
    """Create an invitation for the conversation's customer and send them its link."""
    account = await session.get_one(ChannelAccount, conversation.channel_account_id)
    if account.kind is ChannelKind.WEBCHAT:
        raise Invalid("this conversation is already in the secure chat")
    identity = next(
        (i for i in conversation.contact.identities if i.channel_kind is account.kind),
        None,
    )
    if identity is None:
        raise Invalid("the customer has no account on this network to send the link to")
    if await live_chat_of(session, conversation.id) is not None:
        raise Conflict("a secure chat with this customer is already live")
    await session.execute(
        update(ChatInvitation)
        .where(
            ChatInvitation.conversation_id == conversation.id,
            ChatInvitation.status == InvitationStatus.PENDING,
        )
        .values(status=InvitationStatus.REPLACED)
    )
    token = new_token(nbytes=32)
    now = utcnow()
    ttl = settings.handoff_invitation_ttl_minutes
    invitation = ChatInvitation(
        brand_id=conversation.brand_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        x_user_id=identity.external_id,
        token_hash=token_hash(token),
        created_by_agent_id=actor.agent_id,
        created_at=now,
        expires_at=now + timedelta(minutes=ttl),
    )
    session.add(invitation)
    await session.flush()
    brand = await session.get_one(Brand, conversation.brand_id)
    link = f"{settings.public_base_url}{INVITATION_PATH}{token}"
    by_dm = await _customer_wrote_privately(session, conversation)
    message = await send_reply(
        session,
        actor,
        conversation,
        text=invitation_text(brand.name, link, ttl),
        visibility=Visibility.PRIVATE if by_dm else Visibility.PUBLIC,
    )
    record(
        session,
        actor,
        "handoff.invite",
        "chat_invitation",
        invitation.id,
        {"conversation_id": conversation.id, "message_id": message.id, "by": "dm" if by_dm else "reply"},
    )
    return SentInvitation(invitation=invitation, link=link, message=message)


async def invitation_for_token(session: AsyncSession, token: str) -> ChatInvitation | LinkProblem:
    """The invitation a link's token opens, or why it opens none. Compares hashes, never tokens."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return LinkProblem.UNKNOWN
    invitation = await session.scalar(
        select(ChatInvitation).where(ChatInvitation.token_hash == token_hash(token))
    )
    if invitation is None:
        return LinkProblem.UNKNOWN
    problem = problem_with(invitation)
    return invitation if problem is None else problem


def problem_with(invitation: ChatInvitation) -> LinkProblem | None:
    match invitation.status:
        case InvitationStatus.USED:
            return LinkProblem.USED
        case InvitationStatus.LOCKED:
            return LinkProblem.LOCKED
        case InvitationStatus.REPLACED:
            return LinkProblem.REPLACED
    if invitation.expires_at <= utcnow():
        return LinkProblem.EXPIRED
    return None
