"""Registering Haven's webhook with X and subscribing accounts to it (``haven x webhook …``).

The webhook URL is Haven's public address plus ``/hooks/x/<app_id>``; X checks it with a CRC
before it accepts it, so Haven must be reachable from X (over HTTPS, on the default port, for the
real X) when ``register`` runs. Webhooks are administered with the app's bearer token; the
subscription is made as the brand (OAuth 1.0a user auth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.channels.x.account import open_credentials
from haven.channels.x.client import XApiError, XClient
from haven.channels.x.settings import XAccountSettings, account_settings
from haven.channels.x.webhooks import app_id
from haven.kit.actor import SYSTEM
from haven.kit.errors import Invalid, NotFound
from haven.models import ChannelAccount, ChannelKind
from haven.security.crypto import FieldCipher

HOOK_PATH = "/hooks/x/"
_WEBHOOK_ID = re.compile(r"^[0-9]{1,19}$")


def hook_url(public_url: str, the_app_id: str) -> str:
    """The URL X should call: ``public_url`` itself if it already is a hook URL, else Haven's base
    URL plus ``/hooks/x/<app_id>``."""
    public_url = public_url.strip().rstrip("/")
    if not public_url.startswith(("https://", "http://")):
        raise Invalid("the URL must start with https:// (or http:// for a local simulator)")
    if HOOK_PATH in public_url:
        if not public_url.endswith(HOOK_PATH + the_app_id):
            raise Invalid(f"that hook URL is not this app's (it must end with {HOOK_PATH}{the_app_id})")
        return public_url
    return f"{public_url}{HOOK_PATH}{the_app_id}"


def check_webhook_id(webhook_id: str) -> str:
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise Invalid("a webhook id is a number")
    return webhook_id


async def find_account(session: AsyncSession, handle: str | None) -> ChannelAccount:
    """The active X account with this handle (``@`` optional), or the only one when none is named."""
    query = select(ChannelAccount).where(
        ChannelAccount.kind == ChannelKind.X, ChannelAccount.active.is_(True)
    )
    if handle:
        query = query.where(func.lower(ChannelAccount.handle) == handle.strip().lstrip("@").lower())
    accounts = (await session.scalars(query.order_by(ChannelAccount.id))).all()
    if not accounts:
        raise NotFound(f"no active X account @{handle}" if handle else "no active X account")
    if len(accounts) > 1:
        raise Invalid("several X accounts match; name one with --account")
    return accounts[0]


@dataclass(frozen=True, slots=True)
class Registration:
    webhook_id: str
    url: str
    app_id: str
    reused: bool
    already_subscribed: bool
    webhooks_enabled: bool


def _client(cipher: FieldCipher, account: ChannelAccount) -> XClient:
    return XClient(account.api_base_url, open_credentials(cipher, account))


def account_app_id(cipher: FieldCipher, account: ChannelAccount) -> str:
    return app_id(open_credentials(cipher, account).consumer_key)


async def register(
    session: AsyncSession, cipher: FieldCipher, account: ChannelAccount, public_url: str, *, enable: bool
) -> Registration:
    """Register (or reuse) the app's webhook for Haven's URL, subscribe the account, and, with
    ``enable``, switch the account's ``ingest.webhooks`` on (audited)."""
    the_app_id = account_app_id(cipher, account)
    url = hook_url(public_url, the_app_id)
    client = _client(cipher, account)
    try:
        existing = next((w for w in await client.list_webhooks() if w.get("url") == url), None)
        webhook = existing or await client.create_webhook(url)
        webhook_id = str(webhook.get("id") or "")
        if not _WEBHOOK_ID.fullmatch(webhook_id):
            raise XApiError(200, "Bad response", "no webhook id in the answer")
        already = await _subscribed(client, webhook_id, account.external_user_id)
        if not already:
            await client.subscribe_all(webhook_id)
    finally:
        await client.aclose()
    if enable and not account_settings(account).ingest.webhooks:
        # Only this switch changes; the rest of the stored settings stays as it was written.
        stored = dict(account.settings or {})
        stored["ingest"] = {**(stored.get("ingest") or {}), "webhooks": True}
        XAccountSettings.model_validate(stored)
        account.settings = stored
        record(
            session, SYSTEM, "channel.webhooks_on", "channel_account", account.id, {"webhook_id": webhook_id}
        )
    return Registration(
        webhook_id=webhook_id,
        url=url,
        app_id=the_app_id,
        reused=existing is not None,
        already_subscribed=already,
        webhooks_enabled=account_settings(account).ingest.webhooks,
    )


async def _subscribed(client: XClient, webhook_id: str, user_id: str) -> bool:
    listing = await client.subscriptions(webhook_id)
    subscriptions = listing.get("subscriptions")
    if not isinstance(subscriptions, list):
        return False
    return any(isinstance(s, dict) and s.get("user_id") == user_id for s in subscriptions)


@dataclass(frozen=True, slots=True)
class WebhookInfo:
    webhook_id: str
    url: str
    valid: bool
    subscribed: bool
    raw: dict[str, Any]


async def list_webhooks(cipher: FieldCipher, account: ChannelAccount) -> list[WebhookInfo]:
    """The app's webhooks, and whether the account is subscribed to each."""
    client = _client(cipher, account)
    try:
        found = []
        for webhook in await client.list_webhooks():
            webhook_id = str(webhook.get("id") or "")
            subscribed = bool(_WEBHOOK_ID.fullmatch(webhook_id)) and await _subscribed(
                client, webhook_id, account.external_user_id
            )
            found.append(
                WebhookInfo(
                    webhook_id=webhook_id,
                    url=str(webhook.get("url") or ""),
                    valid=webhook.get("valid") is True,
                    subscribed=subscribed,
                    raw=webhook,
                )
            )
        return found
    finally:
        await client.aclose()


async def remove_webhook(cipher: FieldCipher, account: ChannelAccount, webhook_id: str) -> None:
    """Delete the app's webhook (its subscriptions go with it)."""
    client = _client(cipher, account)
    try:
        await client.delete_webhook(check_webhook_id(webhook_id))
    finally:
        await client.aclose()
