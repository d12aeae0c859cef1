"""Recording what triage understood about an inbound message, and what follows from it.

Runs in the pipeline's transaction, right after the message is stored: the message's triage row,
the conversation's priority, intent, language and private-data flag, its SLA deadlines, and routing.
Private data a customer exposed in public never reaches the message table: the pipeline stores the
masked text, and the customer's own words survive only encrypted here (or not at all, by policy).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.channels.base import Author
from haven.kit.actor import SYSTEM
from haven.models import Conversation, Message, MessageTriage, Visibility
from haven.security.crypto import FieldCipher
from haven.triage.deadlines import set_deadlines, start_cycle
from haven.triage.engine import Understanding
from haven.triage.pii.detect import PiiSpan
from haven.triage.policy import TriagePolicy
from haven.triage.priority import Signals, decide_priority
from haven.triage.routing import route

#: Encryption context of a masked message's original text.
ORIGINAL_CONTEXT = "message_triage.sealed_original"


def exposed_in_public(understanding: Understanding, visibility: Visibility) -> tuple[PiiSpan, ...]:
    """The private data a post shows to everyone (a DM shows it to the brand only)."""
    return understanding.private_data if visibility is Visibility.PUBLIC else ()


def redact_payload(payload: str, text: str, spans: Iterable[PiiSpan]) -> str:
    """The stored raw event with every copy of the exposed values cut out, whatever its shape."""
    secrets = sorted({text[span.start : span.end] for span in spans}, key=len, reverse=True)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for secret in secrets:
                value = value.replace(secret, f"[{len(secret)} characters removed]")
            return value
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    return json.dumps(scrub(json.loads(payload)), separators=(",", ":"))


async def record_triage(
    session: AsyncSession,
    *,
    cipher: FieldCipher,
    policy: TriagePolicy,
    message: Message,
    author: Author,
    understanding: Understanding,
    original_text: str | None,
) -> MessageTriage:
    """Store the message's triage and bring its conversation up to date (priority, SLA, routing).

    ``original_text`` is the customer's text when the stored one was masked.
    """
    conversation = await session.get_one(Conversation, message.conversation_id)
    exposed = exposed_in_public(understanding, message.visibility)
    exposed_types = frozenset(span.type.value for span in exposed)
    prediction = understanding.intent
    decision = decide_priority(
        Signals(
            intent=prediction.intent,
            intent_confidence=prediction.confidence,
            sentiment=understanding.sentiment.compound,
            followers=author.followers,
            verified=author.verified,
            pii_types=exposed_types,
            language=understanding.language,
            is_private=message.visibility is not Visibility.PUBLIC,
        ),
        policy.rules,
    )
    triage = MessageTriage(
        message_id=message.id,
        intent=prediction.intent,
        best_intent=prediction.best,
        intent_confidence=prediction.confidence,
        intent_words=list(prediction.words),
        model=prediction.model,
        sentiment=understanding.sentiment.compound,
        language=understanding.language,
        private_data=sorted({span.type.value for span in understanding.private_data}),
        sealed_original=(
            cipher.encrypt(original_text, context=ORIGINAL_CONTEXT)
            if original_text is not None and policy.keep_exposed_originals
            else None
        ),
        priority=decision.priority,
        priority_reasons=list(decision.reasons),
    )
    session.add(triage)

    if prediction.intent is not None:
        conversation.intent = prediction.intent
    if understanding.language is not None:
        conversation.language = understanding.language
    conversation.sentiment = understanding.sentiment.compound
    if exposed:
        conversation.private_data_exposed = True
    if conversation.waiting_since is None:
        # A new conversation, or one the customer reopened: a fresh verdict and fresh clocks.
        conversation.priority = decision.priority
        conversation.priority_reasons = list(decision.reasons)
        start_cycle(conversation, policy, message.created_at)
    elif decision.priority < conversation.priority:
        # Priority only rises while the conversation is open; the deadlines tighten with it.
        conversation.priority = decision.priority
        conversation.priority_reasons = list(decision.reasons)
        set_deadlines(conversation, policy)
    record(
        session,
        SYSTEM,
        "message.triage",
        "message",
        message.id,
        {
            "conversation_id": conversation.id,
            "intent": prediction.intent,
            "priority": decision.priority,
            "private_data": sorted(exposed_types),
        },
    )
    if conversation.assignee_id is None:
        await route(session, conversation)
    return triage
