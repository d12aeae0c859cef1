"""The live chat's commands: start it for a verified customer, relay the customer's words, end, rate.

Agents write into a chat through the one outbound path (``messages.service.send_reply`` with the
chat); the customer's words come in here. Both become messages of the conversation, so the agent
reads the public thread and the private chat as one timeline.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.channels.capabilities import capabilities
from haven.channels.webchat.account import webchat_account
from haven.conversations.service import reopen
from haven.db import queue_event
from haven.handoff.cards import redact_card_numbers
from haven.handoff.events import append_chat_event
from haven.kit.actor import SYSTEM, Actor
from haven.kit.clock import utcnow
from haven.kit.errors import Conflict, Invalid
from haven.messages.service import add_system_note, chat_message_key, clean_text, find_by_external_id
from haven.models import (
    ChannelKind,
    Chat,
    ChatEvent,
    ChatEventKind,
    ChatInvitation,
    ChatStatus,
    Conversation,
    DeliveryStatus,
    Direction,
    InvitationStatus,
    Message,
    VerificationMethod,
    Visibility,
)
from haven.realtime.events import conversation_changed
from haven.security.secrets import new_token, token_hash

#: The customer's chat cookie, scoped to the chat's pages.
CHAT_COOKIE = "haven_chat"
CUSTOMER = Actor(kind="customer")
MAX_COMMENT = 1000
_METHOD_NAMES = {
    VerificationMethod.ONE_TIME_CODE: "a one-time code",
    VerificationMethod.OPENID_CONNECT: "the bank's sign-in",
}


async def start_chat(
    session: AsyncSession,
    invitation: ChatInvitation,
    *,
    method: VerificationMethod,
    directory_customer_id: str,
) -> tuple[Chat, str]:
    """Spend the invitation and open its chat; returns the chat and the customer's cookie token."""
    if invitation.status is not InvitationStatus.PENDING:
        raise Conflict("this invitation can no longer be used")
    now = utcnow()
    invitation.status = InvitationStatus.USED
    invitation.used_at = now
    invitation.code_hmac = None
    invitation.oidc_pending_encrypted = None
    token = new_token(nbytes=32)
    chat = Chat(
        brand_id=invitation.brand_id,
        conversation_id=invitation.conversation_id,
        invitation_id=invitation.id,
        contact_id=invitation.contact_id,
        customer_token_hash=token_hash(token),
        verified_by=method,
        directory_customer_id=directory_customer_id,
        started_at=now,
    )
    session.add(chat)
    await session.flush()
    conversation = await session.get_one(Conversation, invitation.conversation_id)
    add_system_note(
        session,
        conversation,
        f"The customer proved who they are with {_METHOD_NAMES[method]} and joined the secure chat.",
    )
    await reopen(session, SYSTEM, conversation, reason="secure chat started")
    record(
        session,
        CUSTOMER,
        "handoff.verified",
        "chat",
        chat.id,
        {"invitation_id": invitation.id, "method": method.value, "conversation_id": conversation.id},
    )
    return chat, token


async def chat_for_token(session: AsyncSession, token: str | None) -> Chat | None:
    """The chat a customer's cookie opens (live or ended), or None."""
    if not token or len(token) > 100:
        return None
    return await session.scalar(select(Chat).where(Chat.customer_token_hash == token_hash(token)))


async def customer_says(session: AsyncSession, chat: Chat, text: str, client_id: str) -> Message:
    """Store the customer's chat message (once per ``client_id``); card numbers are cut to last four."""
    if chat.status is not ChatStatus.LIVE:
        raise Conflict("the chat has ended")
    text = redact_card_numbers(clean_text(text))
    if not text:
        raise Invalid("the message is empty")
    limit = capabilities(ChannelKind.WEBCHAT).max_length[Visibility.PRIVATE]
    if len(text) > limit:
        raise Invalid(f"the message is longer than {limit} characters")
    account = await webchat_account(session, chat.brand_id)
    external_id = chat_message_key(chat.id, "customer", client_id)
    if (earlier := await find_by_external_id(session, account.id, external_id)) is not None:
        return earlier
    conversation = await session.get_one(Conversation, chat.conversation_id)
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        channel_account_id=account.id,
        direction=Direction.INBOUND,
        visibility=Visibility.PRIVATE,
        text=text,
        external_id=external_id,
        contact_id=chat.contact_id,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=now,
        chat_id=chat.id,
    )
    session.add(message)
    await session.flush()
    conversation.last_message_at = now
    await reopen(session, SYSTEM, conversation, reason="customer wrote in the secure chat")
    await append_chat_event(session, chat, ChatEventKind.MESSAGE, message_id=message.id)
    record(session, CUSTOMER, "message.receive", "message", message.id, {"chat_id": chat.id})
    queue_event(session, conversation_changed(chat.brand_id, conversation.id, "message"))
    return message


async def end_chat(session: AsyncSession, actor: Actor, chat: Chat) -> None:
    if chat.status is not ChatStatus.LIVE:
        raise Conflict("the chat has already ended")
    chat.status = ChatStatus.ENDED
    chat.ended_at = utcnow()
    chat.ended_by_agent_id = actor.agent_id
    conversation = await session.get_one(Conversation, chat.conversation_id)
    await append_chat_event(session, chat, ChatEventKind.ENDED)
    add_system_note(session, conversation, "The secure chat ended; the customer may now rate it.")
    record(session, actor, "chat.end", "chat", chat.id, {"conversation_id": conversation.id})


async def rate_chat(session: AsyncSession, chat: Chat, score: int, comment: str | None) -> Conversation:
    """Store the customer's 1–5 rating (and comment) on the conversation, once per chat."""
    if chat.status is not ChatStatus.ENDED:
        raise Conflict("the chat can be rated once it has ended")
    if not 1 <= score <= 5:
        raise Invalid("the rating is a whole number from 1 to 5")
    cleaned = redact_card_numbers(clean_text(comment or ""))
    if len(cleaned) > MAX_COMMENT:
        raise Invalid(f"the comment is longer than {MAX_COMMENT} characters")
    conversation = await session.get_one(Conversation, chat.conversation_id)
    if await _rated(session, chat):
        raise Conflict("this chat has already been rated")
    conversation.csat_score = score
    conversation.csat_comment = cleaned or None
    conversation.csat_at = utcnow()
    await append_chat_event(session, chat, ChatEventKind.RATED)
    record(
        session, CUSTOMER, "chat.rate", "chat", chat.id, {"conversation_id": conversation.id, "score": score}
    )
    queue_event(session, conversation_changed(chat.brand_id, conversation.id, "rating"))
    return conversation


async def _rated(session: AsyncSession, chat: Chat) -> bool:
    found = await session.scalar(
        select(ChatEvent.id).where(ChatEvent.chat_id == chat.id, ChatEvent.kind == ChatEventKind.RATED)
    )
    return found is not None
