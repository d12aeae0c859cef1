"""Connecting an X account: learn who the credentials belong to, then store them sealed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.channels.x.account import seal_credentials
from haven.channels.x.client import XClient, XCredentials
from haven.channels.x.parse import XUser
from haven.kit.actor import SYSTEM
from haven.kit.errors import Conflict
from haven.models import ChannelAccount, ChannelKind
from haven.security.crypto import FieldCipher


async def whoami(api_base_url: str, credentials: XCredentials) -> XUser:
    """Ask X which account the brand's user token belongs to (GET /2/users/me)."""
    client = XClient(api_base_url, credentials)
    try:
        body = await client.me()
    finally:
        await client.aclose()
    return XUser.model_validate(body.get("data"))


async def connect_x_account(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    brand_id: int,
    api_base_url: str,
    credentials: XCredentials,
    user: XUser,
) -> ChannelAccount:
    """Create the channel account for ``user``, or refresh its credentials if it exists."""
    account = await session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.X, ChannelAccount.external_user_id == user.id
        )
    )
    sealed = seal_credentials(cipher, credentials)
    if account is None:
        account = ChannelAccount(
            brand_id=brand_id,
            kind=ChannelKind.X,
            handle=user.username,
            external_user_id=user.id,
            api_base_url=api_base_url,
            credentials_encrypted=sealed,
            settings={},
        )
        session.add(account)
        await session.flush()
        record(
            session,
            SYSTEM,
            "channel.connect",
            "channel_account",
            account.id,
            {"handle": user.username},
        )
    elif account.brand_id != brand_id:
        raise Conflict(f"@{user.username} is connected to another brand")
    else:
        account.handle = user.username
        account.api_base_url = api_base_url
        account.credentials_encrypted = sealed
        account.active = True
        record(
            session,
            SYSTEM,
            "channel.credentials_refresh",
            "channel_account",
            account.id,
            {"handle": user.username},
        )
    return account
