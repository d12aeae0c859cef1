"""Proving who the customer is, by one-time code or by the bank's OpenID Connect sign-in.

Either way the answer is a customer in the bank's directory, and that customer must be the one the
invitation was for: a directory record linked to another X account is refused. Wrong answers count
against the invitation, which locks after ``handoff_max_failed_attempts``; codes are kept only as
an HMAC, compared in constant time, and cleared when used, so nothing can be replayed.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.config import Settings
from haven.handoff.chat import CUSTOMER, start_chat
from haven.handoff.directory import DirectoryCustomer, mask_destination
from haven.handoff.oidc import OidcStart, VerificationFailed
from haven.handoff.senders import SendFailed
from haven.handoff.verifiers import Verifiers
from haven.kit.clock import utcnow
from haven.kit.errors import Conflict, Invalid
from haven.models import Chat, ChatInvitation, InvitationStatus, VerificationMethod
from haven.security.crypto import DecryptionError, FieldCipher
from haven.security.secrets import constant_time_equal

log = logging.getLogger(__name__)

CODE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Verified:
    chat: Chat
    #: The customer's chat cookie; shown once, stored hashed.
    customer_token: str


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    attempts_left: int
    locked: bool


def _code_context(invitation: ChatInvitation) -> str:
    return f"handoff.code:{invitation.id}"


def _belongs_to_invitation(customer: DirectoryCustomer, invitation: ChatInvitation) -> bool:
    return customer.x_user_id is None or customer.x_user_id == invitation.x_user_id


async def fail(session: AsyncSession, invitation: ChatInvitation, settings: Settings, reason: str) -> Refused:
    """Count a wrong answer; lock the invitation when there have been too many."""
    invitation.failed_attempts += 1
    locked = invitation.failed_attempts >= settings.handoff_max_failed_attempts
    if locked:
        invitation.status = InvitationStatus.LOCKED
        invitation.code_hmac = None
        invitation.oidc_pending_encrypted = None
    record(
        session,
        CUSTOMER,
        "handoff.verify_failed",
        "chat_invitation",
        invitation.id,
        {"reason": reason, "attempts": invitation.failed_attempts, "locked": locked},
    )
    log.warning(
        "invitation %s: verification refused (%s)%s", invitation.id, reason, ", locked" if locked else ""
    )
    left = max(0, settings.handoff_max_failed_attempts - invitation.failed_attempts)
    return Refused(reason=reason, attempts_left=left, locked=locked)


async def send_code(
    session: AsyncSession,
    invitation: ChatInvitation,
    verifiers: Verifiers,
    cipher: FieldCipher,
    settings: Settings,
    *,
    contact_hint: str | None,
) -> str | None:
    """Send a fresh code to the customer's registered phone or e-mail; returns where, masked.

    The directory is asked for the invitation's X account first, then for the phone or e-mail the
    customer typed. None means no record matched (the page does not say which part was wrong, so
    it cannot be used to test whether someone banks here).
    """
    if verifiers.directory is None:
        raise Invalid("one-time codes are not offered here")
    if invitation.codes_sent >= settings.handoff_max_codes:
        raise Conflict("no more codes can be sent for this link; ask the bank for a new one")
    customer = await verifiers.directory.by_x_user(invitation.x_user_id)
    if customer is None and contact_hint:
        customer = await verifiers.directory.by_contact(contact_hint)
    if customer is None or not _belongs_to_invitation(customer, invitation):
        invitation.codes_sent += 1
        record(session, CUSTOMER, "handoff.code_not_sent", "chat_invitation", invitation.id)
        return None
    destination = customer.phone or customer.email
    if destination is None:
        return None
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    minutes = settings.handoff_code_ttl_seconds // 60
    text = f"Your secure chat code is {code}. It expires in {minutes} minutes. Never share it with anyone."
    try:
        await verifiers.sender.send(destination, text)
    except SendFailed as exc:
        log.warning("invitation %s: the code could not be sent (%s)", invitation.id, exc)
        raise Conflict("the code could not be sent just now; please try again in a minute") from exc
    invitation.code_hmac = cipher.mac(code, context=_code_context(invitation))
    invitation.code_expires_at = utcnow() + timedelta(seconds=settings.handoff_code_ttl_seconds)
    invitation.code_customer_id = customer.customer_id
    invitation.codes_sent += 1
    record(session, CUSTOMER, "handoff.code_sent", "chat_invitation", invitation.id)
    return mask_destination(destination)


async def check_code(
    session: AsyncSession, invitation: ChatInvitation, code: str, cipher: FieldCipher, settings: Settings
) -> Verified | Refused:
    code = "".join(code.split())
    if invitation.code_hmac is None or invitation.code_customer_id is None:
        return Refused(
            reason="no code has been sent yet",
            attempts_left=attempts_left(invitation, settings),
            locked=False,
        )
    if invitation.code_expires_at is None or invitation.code_expires_at <= utcnow():
        invitation.code_hmac = None
        return Refused(
            reason="the code has expired; ask for a new one",
            attempts_left=attempts_left(invitation, settings),
            locked=False,
        )
    candidate = (
        cipher.mac(code, context=_code_context(invitation))
        if code.isdigit() and len(code) == CODE_DIGITS
        else ""
    )
    if not constant_time_equal(candidate, invitation.code_hmac):
        return await fail(session, invitation, settings, "wrong code")
    chat, token = await start_chat(
        session,
        invitation,
        method=VerificationMethod.ONE_TIME_CODE,
        directory_customer_id=invitation.code_customer_id,
    )
    return Verified(chat=chat, customer_token=token)


def attempts_left(invitation: ChatInvitation, settings: Settings) -> int:
    return max(0, settings.handoff_max_failed_attempts - invitation.failed_attempts)


def _oidc_context(invitation: ChatInvitation) -> str:
    return f"chat_invitation.oidc:{invitation.id}"


async def begin_sign_in(
    invitation: ChatInvitation, verifiers: Verifiers, cipher: FieldCipher, redirect_uri: str
) -> str:
    """Start the OpenID Connect sign-in; its state, nonce and PKCE verifier are kept encrypted."""
    if verifiers.oidc is None:
        raise Invalid("signing in with the bank is not offered here")
    start = await verifiers.oidc.begin(redirect_uri)
    invitation.oidc_pending_encrypted = cipher.encrypt(start.to_json(), context=_oidc_context(invitation))
    return start.authorization_url


async def finish_sign_in(
    session: AsyncSession,
    invitation: ChatInvitation,
    verifiers: Verifiers,
    cipher: FieldCipher,
    settings: Settings,
    *,
    redirect_uri: str,
    params: dict[str, str],
) -> Verified | Refused:
    if verifiers.oidc is None or verifiers.directory is None:
        raise Invalid("signing in with the bank is not offered here")
    pending, invitation.oidc_pending_encrypted = invitation.oidc_pending_encrypted, None
    if pending is None:
        return await fail(session, invitation, settings, "no sign-in was started")
    try:
        start = OidcStart.from_json(cipher.decrypt(pending, context=_oidc_context(invitation)))
        identity = await verifiers.oidc.finish(start, redirect_uri, params)
    except (VerificationFailed, DecryptionError) as exc:
        return await fail(session, invitation, settings, f"sign-in refused: {exc}")
    customer = await verifiers.directory.by_oidc_subject(identity.subject)
    if customer is None:
        return await fail(session, invitation, settings, "the signed-in person is not in the directory")
    if not _belongs_to_invitation(customer, invitation):
        return await fail(session, invitation, settings, "the signed-in customer is not the one invited")
    chat, token = await start_chat(
        session,
        invitation,
        method=VerificationMethod.OPENID_CONNECT,
        directory_customer_id=customer.customer_id,
    )
    return Verified(chat=chat, customer_token=token)
