"""Secure forms: an agent asks, the verified customer answers, the answers are kept encrypted.

Each value is encrypted with AES-GCM bound to its form and field (a ciphertext moved to another
row does not decrypt), and the id of the key that sealed it is stored so a rotation can find it.
Agents see the masked copy; revealing the value needs the permission and leaves an audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.db import queue_event
from haven.handoff.chat import CUSTOMER
from haven.handoff.events import append_chat_event
from haven.handoff.fields import FIELD_SPECS, FieldInvalid, FieldKind, mask, normalise
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.kit.errors import Conflict, Invalid, NotFound
from haven.models import (
    Agent,
    Chat,
    ChatEventKind,
    ChatStatus,
    FormStatus,
    Role,
    SecureForm,
    SecureFormValue,
)
from haven.realtime.events import conversation_changed
from haven.security.crypto import DecryptionError, FieldCipher

log = logging.getLogger(__name__)

MAX_FIELDS = len(FieldKind)
#: Who may see a secure value in clear (issue 6 brings the full permission matrix).
REVEAL_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _context(form_id: int, field: str) -> str:
    return f"secure_form_value:{form_id}:{field}"


async def request_form(session: AsyncSession, actor: Actor, chat: Chat, kinds: Sequence[str]) -> SecureForm:
    if chat.status is not ChatStatus.LIVE:
        raise Conflict("the chat has ended")
    try:
        fields = [FieldKind(kind) for kind in dict.fromkeys(kinds)]
    except ValueError as exc:
        raise Invalid("unknown form field") from exc
    if not 1 <= len(fields) <= MAX_FIELDS:
        raise Invalid("choose at least one field to ask for")
    form = SecureForm(
        chat_id=chat.id,
        conversation_id=chat.conversation_id,
        requested_by_agent_id=actor.agent_id,
        fields=[kind.value for kind in fields],
    )
    session.add(form)
    await session.flush()
    await append_chat_event(session, chat, ChatEventKind.FORM_REQUESTED, form_id=form.id)
    record(
        session,
        actor,
        "secure_form.request",
        "secure_form",
        form.id,
        {"chat_id": chat.id, "fields": form.fields},
    )
    queue_event(session, conversation_changed(chat.brand_id, chat.conversation_id, "form"))
    return form


async def submit_form(
    session: AsyncSession,
    chat: Chat,
    form_id: int,
    answers: Mapping[str, str],
    cipher: FieldCipher,
    *,
    today: date,
) -> SecureForm:
    """Check every answer, then store them all encrypted, or store none and say what is wrong."""
    form = await session.get(SecureForm, form_id)
    if form is None or form.chat_id != chat.id:
        raise NotFound("there is no such form in this chat")
    if chat.status is not ChatStatus.LIVE:
        raise Conflict("the chat has ended")
    if form.status is not FormStatus.REQUESTED:
        raise Conflict("this form has already been sent")
    values: dict[str, str] = {}
    for kind in form.fields:
        try:
            values[kind] = normalise(FieldKind(kind), answers.get(kind, ""), today=today)
        except FieldInvalid as exc:
            raise Invalid(f"{FIELD_SPECS[FieldKind(kind)].label}: {exc}") from exc
    for kind, value in values.items():
        session.add(
            SecureFormValue(
                form_id=form.id,
                field=kind,
                key_id=cipher.current_key_id,
                value_encrypted=cipher.encrypt(value, context=_context(form.id, kind)),
                masked=mask(FieldKind(kind), value),
            )
        )
    form.status = FormStatus.SUBMITTED
    form.submitted_at = utcnow()
    await append_chat_event(session, chat, ChatEventKind.FORM_SUBMITTED, form_id=form.id)
    record(session, CUSTOMER, "secure_form.submit", "secure_form", form.id, {"chat_id": chat.id})
    queue_event(session, conversation_changed(chat.brand_id, chat.conversation_id, "form"))
    return form


async def forms_of_conversation(
    session: AsyncSession, conversation_id: int
) -> list[tuple[SecureForm, list[SecureFormValue]]]:
    forms = (
        await session.scalars(
            select(SecureForm).where(SecureForm.conversation_id == conversation_id).order_by(SecureForm.id)
        )
    ).all()
    values = (
        await session.scalars(
            select(SecureFormValue).where(SecureFormValue.form_id.in_([form.id for form in forms]))
        )
    ).all()
    by_form: dict[int, list[SecureFormValue]] = {}
    for value in values:
        by_form.setdefault(value.form_id, []).append(value)
    return [
        (form, sorted(by_form.get(form.id, []), key=lambda v: form.fields.index(v.field))) for form in forms
    ]


def may_reveal(agent: Agent | None) -> bool:
    return agent is not None and agent.role in REVEAL_ROLES


async def reveal(
    session: AsyncSession, actor: Actor, form: SecureForm, cipher: FieldCipher
) -> dict[str, str] | None:
    """The form's values in clear, for an agent allowed to see them; the reveal is audited.

    None when the agent may not see them: the refusal is audited too (and committed, hence a
    return value rather than an exception, which would roll the entry back).
    """
    if not may_reveal(actor.agent):
        record(session, actor, "secure_form.reveal_refused", "secure_form", form.id)
        return None
    values = (await session.scalars(select(SecureFormValue).where(SecureFormValue.form_id == form.id))).all()
    try:
        clear = {
            value.field: cipher.decrypt(value.value_encrypted, context=_context(form.id, value.field))
            for value in values
        }
    except DecryptionError as exc:
        # A missing key or an altered row: say so plainly rather than fail with a server error.
        log.error("secure form %s: a value does not decrypt (%s)", form.id, exc)
        raise Conflict(
            "this form's values cannot be decrypted: a key is missing or a value was altered"
        ) from exc
    record(
        session,
        actor,
        "secure_form.reveal",
        "secure_form",
        form.id,
        {"conversation_id": form.conversation_id, "fields": sorted(clear)},
    )
    return clear
