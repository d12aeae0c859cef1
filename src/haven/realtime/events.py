"""What the bus carries: small, typed notices that something committed changed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RealtimeEvent(BaseModel):
    """A change notice. ``brand_id`` scopes who may receive it; the server decides recipients."""

    type: str
    brand_id: int
    data: dict[str, Any] = Field(default_factory=dict)
    #: Set for events that only a few listeners want (one chat's): only its subscribers receive it.
    topic: str | None = None


def conversation_changed(brand_id: int, conversation_id: int, reason: str) -> RealtimeEvent:
    return RealtimeEvent(
        type="conversation.changed",
        brand_id=brand_id,
        data={"conversation_id": conversation_id, "reason": reason},
    )


def outbox_queued(brand_id: int, message_id: int) -> RealtimeEvent:
    """Tells the outbox sender, wherever it runs, that a delivery is waiting."""
    return RealtimeEvent(type="outbox.queued", brand_id=brand_id, data={"message_id": message_id})


def alert_changed(brand_id: int, alert_id: int) -> RealtimeEvent:
    """An alert was raised or resolved: consoles refresh their banner."""
    return RealtimeEvent(type="alert.changed", brand_id=brand_id, data={"alert_id": alert_id})


def inbound_stored(brand_id: int, channel_account_id: int) -> RealtimeEvent:
    """Tells the inbound pipeline, wherever it runs, that raw events are waiting (webhook deliveries)."""
    return RealtimeEvent(
        type="inbound.stored", brand_id=brand_id, data={"channel_account_id": channel_account_id}
    )


def chat_topic(chat_id: int) -> str:
    return f"chat:{chat_id}"


def chat_event_added(brand_id: int, chat_id: int, seq: int) -> RealtimeEvent:
    """A chat has a new numbered event; its sockets read it (and any they missed) from the database."""
    return RealtimeEvent(type="chat.event", brand_id=brand_id, data={"seq": seq}, topic=chat_topic(chat_id))


def chat_typing(brand_id: int, chat_id: int, side: str) -> RealtimeEvent:
    """Someone is typing in a chat; not stored, only relayed to the other side."""
    return RealtimeEvent(
        type="chat.typing", brand_id=brand_id, data={"from": side}, topic=chat_topic(chat_id)
    )


PRESENCE = "presence"


def presence(
    brand_id: int,
    *,
    conversation_id: int,
    agent_id: int,
    name: str,
    state: str,
    socket: str,
    joined: bool,
) -> RealtimeEvent:
    """Where an agent's console is: viewing, typing in, or gone from a conversation. Never stored.

    ``socket`` tells one console of the agent from another; ``joined`` asks the consoles already on
    the conversation to say so at once (see ``realtime.console_ws``).
    """
    return RealtimeEvent(
        type=PRESENCE,
        brand_id=brand_id,
        data={
            "conversation_id": conversation_id,
            "agent_id": agent_id,
            "name": name,
            "state": state,
            "socket": socket,
            "joined": joined,
        },
    )


def agent_availability_changed(brand_id: int, agent_id: int, availability: str) -> RealtimeEvent:
    """An agent went online or away: routing may hand out queued conversations (or stop)."""
    return RealtimeEvent(
        type="agent.availability",
        brand_id=brand_id,
        data={"agent_id": agent_id, "availability": availability},
    )
