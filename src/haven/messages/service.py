"""Message commands. ``send_reply`` is the one outbound path (rule 1 of the house)."""

from __future__ import annotations

import enum
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.channels.base import InboundPost
from haven.channels.capabilities import capabilities
from haven.channels.webchat.account import webchat_account
from haven.contacts.service import contact_for_author, find_contact
from haven.conversations import repository as conversations
from haven.conversations.service import assign, reopen
from haven.db import queue_event
from haven.handoff.events import append_chat_event
from haven.kit.actor import SYSTEM, Actor
from haven.kit.clock import utcnow
from haven.kit.errors import Conflict, Forbidden, Invalid, NotFound
from haven.models import (
    ChannelAccount,
    Chat,
    ChatEventKind,
    ChatStatus,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    Role,
    Visibility,
)
from haven.realtime.events import conversation_changed, outbox_queued
from haven.triage.deadlines import mark_first_response

PREVIEW_LENGTH = 280


def _preview(text: str) -> str:
    return " ".join(text.split())[:PREVIEW_LENGTH]


async def _conversation_for(
    session: AsyncSession, account: ChannelAccount, post: InboundPost
) -> Conversation | None:
    """The conversation a post belongs to, if Haven has it.

    A tweet belongs to its thread. A private message joins its author's open conversation, so a
    customer's tweets and DMs read as one timeline; failing that, its own DM thread.
    """
    if post.visibility is Visibility.PRIVATE:
        contact = await find_contact(
            session, brand_id=account.brand_id, kind=account.kind, external_id=post.author.external_id
        )
        if contact is not None:
            current = await conversations.open_conversation_of_contact(
                session, channel_account_id=account.id, contact_id=contact.id
            )
            if current is not None:
                return current
    return await conversations.conversation_for_thread(
        session, channel_account_id=account.id, thread_key=post.thread_key
    )


class NotRecorded(enum.Enum):
    """Why ``record_inbound`` stored no message."""

    SEEN_BEFORE = "seen before"
    #: The post would need a new conversation, and the account opens none for its kind of post.
    OPENS_NOTHING = "opens nothing"


async def record_inbound(
    session: AsyncSession, account: ChannelAccount, post: InboundPost, *, may_open: bool = True
) -> Message | NotRecorded:
    """Store a customer's post in its conversation and return it, or say why nothing was stored."""
    existing = await session.scalar(
        select(Message.id).where(
            Message.channel_account_id == account.id, Message.external_id == post.external_id
        )
    )
    if existing is not None:
        return NotRecorded.SEEN_BEFORE
    conversation = await _conversation_for(session, account, post)
    if conversation is None and not may_open:
        return NotRecorded.OPENS_NOTHING
    contact = await contact_for_author(
        session, brand_id=account.brand_id, kind=account.kind, author=post.author
    )
    if conversation is None:
        conversation = Conversation(
            brand_id=account.brand_id,
            channel_account_id=account.id,
            contact_id=contact.id,
            thread_key=post.thread_key,
            # Set here, not only below, so that the INSERT carries it (below it is then no change).
            preview=_preview(post.text),
            last_message_at=post.created_at,
        )
        session.add(conversation)
        await session.flush()
        record(session, SYSTEM, "conversation.open", "conversation", conversation.id)
    else:
        await reopen(session, SYSTEM, conversation, reason="customer wrote again")
    message = Message(
        conversation_id=conversation.id,
        channel_account_id=account.id,
        direction=Direction.INBOUND,
        visibility=post.visibility,
        text=post.text,
        external_id=post.external_id,
        in_reply_to_external_id=post.in_reply_to_external_id,
        contact_id=contact.id,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=post.created_at,
    )
    session.add(message)
    if post.created_at >= conversation.last_message_at:
        conversation.preview = _preview(post.text)
        conversation.last_message_at = post.created_at
    await session.flush()
    record(
        session,
        SYSTEM,
        "message.receive",
        "message",
        message.id,
        {"conversation_id": conversation.id, "external_id": post.external_id},
    )
    queue_event(session, conversation_changed(account.brand_id, conversation.id, "message"))
    return message


def clean_text(text: str) -> str:
    """Normalise line breaks (browsers send CRLF) and to NFC; refuse other control characters."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise Invalid("the text contains control characters")
    return text


def chat_message_key(chat_id: int, side: str, client_id: str) -> str:
    """A chat message's external id: the sender's own id for it, so a resent message is stored once."""
    return f"chat:{chat_id}:{side}:{client_id}"


async def find_by_external_id(session: AsyncSession, account_id: int, external_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.channel_account_id == account_id, Message.external_id == external_id)
    )


async def send_reply(
    session: AsyncSession,
    actor: Actor,
    conversation: Conversation,
    *,
    text: str,
    visibility: Visibility,
    chat: Chat | None = None,
    client_id: str | None = None,
) -> Message:
    """Write an agent's message and, unless it is an internal note, its delivery: one transaction.

    The visibility is checked against what the channel can deliver here, before anything is stored,
    so a private message can never be queued for a public path. A message into a live secure
    ``chat`` travels the bank's own chat channel, which carries private messages only; it is
    delivered by being stored (its chat event wakes the customer's socket), so it needs no outbox
    row. ``client_id`` (the sender's own id for the message) makes a resent chat message a no-op.
    """
    text = clean_text(text)
    if not text:
        raise Invalid("the message is empty")
    outbound = visibility is not Visibility.INTERNAL
    if outbound:
        _may_answer(actor, conversation)
    if chat is None:
        account = await session.get_one(ChannelAccount, conversation.channel_account_id)
    else:
        if chat.conversation_id != conversation.id:
            raise Invalid("that chat belongs to another conversation")
        if chat.status is not ChatStatus.LIVE:
            raise Conflict("the secure chat has ended")
        if visibility is Visibility.INTERNAL:
            raise Invalid("an internal note is not sent into a chat")
        account = await webchat_account(session, conversation.brand_id)
    caps = capabilities(account.kind)
    if outbound and visibility not in caps.deliverable:
        raise Invalid(f"{account.kind.value} cannot deliver a {visibility.value} message here")
    if outbound and len(text) > caps.max_length[visibility]:
        limit = caps.max_length[visibility]
        raise Invalid(
            f"the message is longer than {limit} characters, the most a {visibility.value} one may have"
        )
    external_id = None
    if chat is not None and client_id is not None:
        external_id = chat_message_key(chat.id, "agent", client_id)
        if (earlier := await find_by_external_id(session, account.id, external_id)) is not None:
            return earlier

    now = utcnow()
    status = DeliveryStatus.NOT_APPLICABLE
    if outbound:
        status = DeliveryStatus.QUEUED if chat is None else DeliveryStatus.SENT
    message = Message(
        conversation_id=conversation.id,
        channel_account_id=account.id,
        direction=Direction.OUTBOUND,
        visibility=visibility,
        text=text,
        author_agent_id=actor.agent_id,
        delivery_status=status,
        created_at=now,
        sent_at=now if chat is not None else None,
        chat_id=chat.id if chat is not None else None,
        external_id=external_id,
    )
    session.add(message)
    await session.flush()
    if outbound:
        conversation.last_message_at = message.created_at
        if actor.agent is not None:
            mark_first_response(conversation, now)
        if chat is None:
            session.add(OutboxItem(message_id=message.id, channel_account_id=account.id))
            queue_event(session, outbox_queued(conversation.brand_id, message.id))
        else:
            await append_chat_event(session, chat, ChatEventKind.MESSAGE, message_id=message.id)
    await reopen(session, actor, conversation, reason="agent replied")
    if conversation.assignee_id is None and actor.agent is not None:
        await assign(session, actor, conversation, actor.agent.id, reason="first reply")
    elif conversation.assignee_id == actor.agent_id and conversation.picked_up_at is None:
        conversation.picked_up_at = now
    record(
        session,
        actor,
        "message.send" if outbound else "message.note",
        "message",
        message.id,
        {"conversation_id": conversation.id, "visibility": visibility.value, "chat_id": message.chat_id},
    )
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "message"))
    return message


def _may_answer(actor: Actor, conversation: Conversation) -> None:
    """Collision control: while a conversation is assigned, only its assignee or a supervisor answers."""
    agent = actor.agent
    if agent is None or conversation.assignee_id in (None, agent.id):
        return
    if agent.role is Role.AGENT:
        owner = conversation.assignee.display_name if conversation.assignee is not None else "another agent"
        raise Forbidden(f"this conversation is assigned to {owner}; only they or a supervisor can reply")


async def retry_delivery(
    session: AsyncSession, actor: Actor, conversation: Conversation, message_id: int
) -> Message:
    """Queue a failed outbound message again (the console's "Retry"): same message, same outbox row.

    An attempt whose outcome was unknown stays marked, so the retry looks on X before it sends.
    """
    message = await session.get(Message, message_id)
    if message is None or message.conversation_id != conversation.id:
        raise NotFound("no such message in this conversation")
    item = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    if item is None or message.delivery_status is not DeliveryStatus.FAILED:
        raise Conflict("only a failed delivery can be retried")
    item.status = OutboxStatus.PENDING
    item.attempts = 0
    item.next_attempt_at = utcnow()
    item.lease_until = item.lease_token = None
    message.delivery_status = DeliveryStatus.QUEUED
    previous_reason, message.failure_reason = message.failure_reason, None
    record(
        session,
        actor,
        "message.retry",
        "message",
        message.id,
        {"conversation_id": conversation.id, "previous_failure": previous_reason},
    )
    queue_event(session, outbox_queued(conversation.brand_id, message.id))
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "retry"))
    return message


def add_system_note(session: AsyncSession, conversation: Conversation, text: str) -> Message:
    """An internal note written by Haven itself (a chat began or ended …); it never leaves Haven."""
    message = Message(
        conversation_id=conversation.id,
        channel_account_id=conversation.channel_account_id,
        direction=Direction.OUTBOUND,
        visibility=Visibility.INTERNAL,
        text=text,
        delivery_status=DeliveryStatus.NOT_APPLICABLE,
        created_at=utcnow(),
    )
    session.add(message)
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "note"))
    return message
