"""A chat's numbered events: written in the transaction of what they record, read back in order.

Sequence numbers come from ``chat.last_seq``, bumped by an UPDATE that holds the chat row's lock
until commit. So a chat's events commit in the order of their numbers, and a client that saw event
*n* misses nothing by asking for the events after *n* (an auto-increment id would not promise that
on PostgreSQL, where a later id can commit first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from haven.db import queue_event
from haven.handoff.fields import FIELD_SPECS, FieldKind
from haven.models import Agent, Chat, ChatEvent, ChatEventKind, Direction, Message, SecureForm
from haven.realtime.events import chat_event_added

#: At most this many events are sent per read; a client far behind reads on in the next batch.
READ_BATCH = 200


async def append_chat_event(
    session: AsyncSession,
    chat: Chat,
    kind: ChatEventKind,
    *,
    message_id: int | None = None,
    form_id: int | None = None,
) -> ChatEvent:
    seq = await session.scalar(
        update(Chat).where(Chat.id == chat.id).values(last_seq=Chat.last_seq + 1).returning(Chat.last_seq)
    )
    assert seq is not None
    chat.last_seq = seq
    event = ChatEvent(chat_id=chat.id, seq=seq, kind=kind, message_id=message_id, form_id=form_id)
    session.add(event)
    queue_event(session, chat_event_added(chat.brand_id, chat.id, seq))
    return event


@dataclass(frozen=True, slots=True)
class ChatEventView:
    """What a chat participant is shown of one event. Never carries secure-form values."""

    seq: int
    kind: ChatEventKind
    at: datetime
    side: str | None = None
    author: str | None = None
    text: str | None = None
    client_id: str | None = None
    form: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"type": "event", "seq": self.seq, "kind": self.kind.value}
        payload["at"] = self.at.isoformat()
        for key in ("side", "author", "text", "client_id", "form"):
            value = getattr(self, key)
            if value is not None:
                payload[key] = value
        return payload


def _client_id(message: Message) -> str | None:
    """The sender's own id for a message (``chat:<chat>:<side>:<client id>``), for its echo."""
    if message.external_id is None:
        return None
    parts = message.external_id.split(":", 3)
    return parts[3] if len(parts) == 4 else None


async def events_after(session: AsyncSession, chat_id: int, after_seq: int) -> list[ChatEventView]:
    rows = (
        await session.execute(
            select(ChatEvent, Message, SecureForm, Agent.display_name)
            .outerjoin(Message, Message.id == ChatEvent.message_id)
            .outerjoin(Agent, Agent.id == Message.author_agent_id)
            .outerjoin(SecureForm, SecureForm.id == ChatEvent.form_id)
            .where(ChatEvent.chat_id == chat_id, ChatEvent.seq > after_seq)
            .order_by(ChatEvent.seq)
            .limit(READ_BATCH)
        )
    ).all()
    views = []
    for event, message, form, agent_name in rows:
        if message is not None:
            side = "customer" if message.direction is Direction.INBOUND else "agent"
            views.append(
                ChatEventView(
                    seq=event.seq,
                    kind=event.kind,
                    at=event.created_at,
                    side=side,
                    author=agent_name if side == "agent" else None,
                    text=message.text,
                    client_id=_client_id(message),
                )
            )
        elif form is not None:
            form_view = {"id": form.id, "fields": field_specs(form.fields), "status": form.status.value}
            views.append(ChatEventView(seq=event.seq, kind=event.kind, at=event.created_at, form=form_view))
        else:
            views.append(ChatEventView(seq=event.seq, kind=event.kind, at=event.created_at))
    return views


def field_specs(kinds: list[str]) -> list[dict[str, object]]:
    """A form's fields as the customer's page renders them."""
    return [
        {
            "kind": spec.kind.value,
            "label": spec.label,
            "input_type": spec.input_type,
            "hint": spec.hint,
            "max_length": spec.max_length,
        }
        for spec in (FIELD_SPECS[FieldKind(kind)] for kind in kinds)
    ]
