"""Recording what triage understood about an inbound message, and what follows from it.

Runs in the pipeline's transaction, right after the message is stored: the message's triage row,
the conversation's priority, intent, language and private-data flag, its SLA deadlines, and routing.
Private data a customer exposed in public never reaches the message table: the pipeline stores the
masked text, and the customer's own words survive only encrypted here (or not at all, by policy).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.channels.base import Author
from haven.kit.actor import SYSTEM
from haven.models import Conversation, Message, MessageTriage, Visibility
from haven.security.crypto import FieldCipher
from haven.triage.deadlines import set_deadlines, start_cycle
from haven.triage.engine import Understanding
from haven.triage.pii.detect import PiiSpan, find_private_data
from haven.triage.pii.mask import mask_private_data
from haven.triage.policy import TriagePolicy
from haven.triage.priority import Signals, decide_priority
from haven.triage.routing import route


def original_context(message_id: int) -> str:
    """The encryption context of a masked message's original: bound to the row, so a ciphertext
    copied to another message does not decrypt."""
    return f"message_triage.sealed_original:{message_id}"


def exposed_in_public(understanding: Understanding, visibility: Visibility) -> tuple[PiiSpan, ...]:
    """The private data a post shows to everyone (a DM shows it to the brand only)."""
    return understanding.private_data if visibility is Visibility.PUBLIC else ()


REMOVED = "[removed]"


def redact_payload(payload: str, text: str, spans: Sequence[PiiSpan], *, region: str) -> str:
    """The stored raw event with the exposed values cut out of every string, whatever its shape.

    Three passes per string: a truncated copy of the post (X v1.1 cuts long posts at 140 characters
    and adds "…") loses the parts of the spans it holds; exact copies of the values go; and anything
    else the detector finds there (a quoted or retweeted post, say) is masked.
    """
    values = sorted({text[span.start : span.end] for span in spans}, key=len, reverse=True)

    def scrub_text(value: str) -> str:
        head = value.removesuffix("…")
        if head and len(head) < len(text) and text.startswith(head):
            cut = sorted((span.start, min(span.end, len(head))) for span in spans if span.start < len(head))
            for start, end in reversed(cut):
                head = head[:start] + REMOVED + head[end:]
            value = head + value[len(value.removesuffix("…")) :]
        for secret in values:
            value = value.replace(secret, REMOVED)
        found = find_private_data(value, region=region)
        return mask_private_data(value, found) if found else value

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return scrub_text(value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            # Ids (a 19-digit snowflake may pass Luhn) stay as X sent them, or the event breaks.
            return {key: item if _is_id(key) else scrub(item) for key, item in value.items()}
        return value

    try:
        document = json.loads(payload)
    except ValueError:
        return scrub_text(payload)
    return json.dumps(scrub(document), separators=(",", ":"))


def _is_id(key: str) -> bool:
    return key in {"id", "id_str"} or key.endswith(("_id", "_id_str"))


def _words_without_private_data(words: Sequence[str], text: str, spans: Sequence[PiiSpan]) -> list[str]:
    """The explanation words, less any that are part of a private value (a digit group, say)."""
    values = [text[span.start : span.end] for span in spans]
    return [word for word in words if not any(word in value for value in values)]


async def record_triage(
    session: AsyncSession,
    *,
    cipher: FieldCipher,
    policy: TriagePolicy,
    message: Message,
    author: Author,
    understanding: Understanding,
    text: str,
    masked: bool,
) -> MessageTriage:
    """Store the message's triage and bring its conversation up to date (priority, SLA, routing).

    ``text`` is what the customer wrote; ``masked`` says the stored text had private data masked.
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
        intent_words=_words_without_private_data(prediction.words, text, understanding.private_data),
        model=prediction.model,
        sentiment=understanding.sentiment.compound,
        language=understanding.language,
        private_data=sorted({span.type.value for span in understanding.private_data}),
        sealed_original=(
            cipher.encrypt(text, context=original_context(message.id))
            if masked and policy.keep_exposed_originals
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
