"""The Account Activity webhook receiver: ``GET`` answers X's CRC, ``POST`` takes a signed delivery.

``/hooks/x/{app_id}`` names the X app (``webhooks.app_id``: a hash of its consumer key, not a
secret). These endpoints are authenticated by the HMAC of the app's consumer secret, not by
sessions or CSRF tokens: no cookie is read, and nothing here uses the CSRF dependency.

A delivery is stored before it is answered (rule 3 of the house) and processed later by the inbound
pipeline, which a notice on the bus wakes at once; nothing else is published. Logs carry reasons,
ids and counts, never a delivery's content.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.x.account import open_credentials
from haven.channels.x.client import XCredentials
from haven.channels.x.parse import MalformedPayload
from haven.channels.x.settings import account_settings
from haven.channels.x.webhooks import (
    MAX_CRC_TOKEN,
    MAX_DELIVERY_BYTES,
    SIGNATURE_HEADER,
    Delivery,
    app_id,
    crc_response,
    is_app_id,
    split_delivery,
    verify_signature,
)
from haven.db import queue_event
from haven.inbound.store import store_raw_events
from haven.models import ChannelAccount, ChannelKind
from haven.realtime.events import inbound_stored
from haven.runtime import Runtime
from haven.security.crypto import DecryptionError, FieldCipher

log = logging.getLogger(__name__)

router = APIRouter(prefix="/hooks/x", include_in_schema=False)

#: The stored-events source name for webhook deliveries.
SOURCE = "webhook"


def _answer(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code)


async def accounts_of_app(
    session: AsyncSession, cipher: FieldCipher, wanted_app_id: str
) -> list[tuple[ChannelAccount, XCredentials]]:
    """The active X accounts connected through the app ``wanted_app_id``, with their credentials."""
    accounts = (
        await session.scalars(
            select(ChannelAccount).where(
                ChannelAccount.kind == ChannelKind.X, ChannelAccount.active.is_(True)
            )
        )
    ).all()
    found = []
    for account in accounts:
        try:
            credentials = open_credentials(cipher, account)
        except (DecryptionError, ValidationError):
            # One unreadable account (a retired key) must not take every webhook down with it.
            log.error("the credentials of X account %s cannot be opened", account.id)
            continue
        if app_id(credentials.consumer_key) == wanted_app_id:
            found.append((account, credentials))
    return found


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is longer than ``limit`` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/{hook_app_id}")
async def challenge(request: Request, hook_app_id: str) -> JSONResponse:
    """Answer X's challenge-response check with the app's consumer secret."""
    if not is_app_id(hook_app_id):
        return _answer(404, "unknown app")
    token = request.query_params.get("crc_token")
    if not token or len(token) > MAX_CRC_TOKEN:
        log.warning("webhook CRC for app %s without a usable crc_token", hook_app_id)
        return _answer(400, "crc_token is missing or too long")
    runtime: Runtime = request.app.state.runtime
    async with runtime.database.reader() as session:
        app_accounts = await accounts_of_app(session, runtime.cipher, hook_app_id)
    if not app_accounts:
        log.warning("webhook CRC for unknown app %s", hook_app_id)
        return _answer(404, "unknown app")
    _, credentials = app_accounts[0]
    return JSONResponse({"response_token": crc_response(credentials.consumer_secret, token)})


@router.post("/{hook_app_id}")
async def receive(request: Request, hook_app_id: str) -> JSONResponse:
    """Verify, split and store one delivery, then answer 200 at once."""
    if not is_app_id(hook_app_id):
        return _answer(404, "unknown app")
    body = await _read_body(request, MAX_DELIVERY_BYTES)
    if body is None:
        log.warning(
            "webhook delivery for app %s refused: larger than %s bytes", hook_app_id, MAX_DELIVERY_BYTES
        )
        return _answer(413, "delivery too large")
    runtime: Runtime = request.app.state.runtime
    async with runtime.database.unit_of_work() as session:
        app_accounts = await accounts_of_app(session, runtime.cipher, hook_app_id)
        if not app_accounts:
            log.warning("webhook delivery for unknown app %s", hook_app_id)
            return _answer(404, "unknown app")
        header = request.headers.get(SIGNATURE_HEADER)
        candidates = {credentials.consumer_secret for _, credentials in app_accounts}
        # Every candidate is checked (one in practice), so the time taken says nothing about which.
        verdicts = [verify_signature(secret, body, header) for secret in sorted(candidates)]
        if not any(verdicts):
            log.warning(
                "webhook delivery for app %s refused: %s signature",
                hook_app_id,
                "bad" if header else "missing",
            )
            return _answer(401, "bad or missing signature")
        try:
            delivery = split_delivery(body)
        except MalformedPayload as exc:
            log.warning("webhook delivery for app %s refused: %s", hook_app_id, exc)
            return _answer(400, "malformed delivery")
        account = next(
            (a for a, _ in app_accounts if a.external_user_id == delivery.for_user_id),
            None,
        )
        _log_notices(hook_app_id, account, delivery)
        if account is None or not account_settings(account).ingest.webhooks:
            # Answer 200 all the same: X would otherwise retry a delivery no one here will take.
            log.warning(
                "webhook delivery for X user %s dropped: no active account with webhooks on (app %s)",
                delivery.for_user_id,
                hook_app_id,
            )
            return JSONResponse({"stored": 0})
        if delivery.events:
            await store_raw_events(session, account.id, SOURCE, delivery.events)
            queue_event(session, inbound_stored(account.brand_id, account.id))
    return JSONResponse({"stored": len(delivery.events)})


def _log_notices(hook_app_id: str, account: ChannelAccount | None, delivery: Delivery) -> None:
    where = f"account {account.id}" if account else f"X user {delivery.for_user_id}"
    if delivery.revoked_by is not None:
        log.warning(
            "X user %s revoked app %s's access (%s): its webhooks and API calls will stop working",
            delivery.revoked_by,
            hook_app_id,
            where,
        )
    if delivery.deleted_tweet_ids:
        log.info(
            "webhook: %s tweet(s) deleted on X (%s): %s",
            len(delivery.deleted_tweet_ids),
            where,
            ", ".join(delivery.deleted_tweet_ids[:20]),
        )
    if delivery.ignored:
        log.info(
            "webhook: not conversation material, ignored (%s): %s",
            where,
            ", ".join(f"{kind}={count}" for kind, count in sorted(delivery.ignored.items())),
        )
