"""Finding the thread of a post whose network gave none (X v1.1 webhook deliveries).

A v1.1 reply names only the post it answers (``in_reply_to_status_id_str``). Its conversation is
found by walking up that chain through what Haven already holds:

1. the parent is a message Haven has (a customer's post, or the brand's reply once X gave its id):
   the reply joins that message's conversation;
2. the parent is a raw event Haven stored but made no message of (the brand's own echo, a post
   that did not open a conversation): a v2 event names its conversation outright; a v1.1 event
   names its own parent, and the walk goes on from there;
3. otherwise the highest ancestor Haven knows stands in for the conversation id — exact when it
   is the root, which is the usual case: a customer answering the brand's post or their own.

The walk is bounded, and a stored event that does not parse simply ends it.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.base import InboundPost
from haven.channels.x.events import parse_stored_event
from haven.channels.x.parse import MalformedPayload
from haven.models import ChannelAccount, Conversation, InboundEvent, Message

#: How far up a reply chain the walk goes before settling for the highest ancestor seen.
MAX_HOPS = 20


async def resolve_thread(session: AsyncSession, account: ChannelAccount, post: InboundPost) -> InboundPost:
    """The post with its thread key resolved, if it came without one; otherwise the post itself."""
    if not post.thread_from_parent or post.in_reply_to_external_id is None:
        return post
    parent = post.in_reply_to_external_id
    for _ in range(MAX_HOPS):
        thread_key = await session.scalar(
            select(Conversation.thread_key)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.channel_account_id == account.id, Message.external_id == parent)
            .limit(1)
        )
        if thread_key is not None:
            return dataclasses.replace(post, thread_key=thread_key)
        payload = await session.scalar(
            select(InboundEvent.payload).where(
                InboundEvent.channel_account_id == account.id, InboundEvent.external_id == parent
            )
        )
        if payload is None:
            break
        try:
            stored = parse_stored_event(payload, brand_user_id=account.external_user_id)
        except MalformedPayload:
            break
        if not stored.thread_from_parent or stored.in_reply_to_external_id is None:
            return dataclasses.replace(post, thread_key=stored.thread_key)
        parent = stored.in_reply_to_external_id
    return dataclasses.replace(post, thread_key=parent)
