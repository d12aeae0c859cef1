"""Each brand's one webchat channel account, made on first use.

Messages carry a channel account, and secure-chat messages belong to the bank's own chat rather than
to X; this account is that channel. It has no credentials: Haven itself delivers.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from haven.models import ChannelAccount, ChannelKind


def _external_id(brand_id: int) -> str:
    return f"brand-{brand_id}"


async def webchat_account(session: AsyncSession, brand_id: int) -> ChannelAccount:
    query = select(ChannelAccount).where(
        ChannelAccount.kind == ChannelKind.WEBCHAT, ChannelAccount.external_user_id == _external_id(brand_id)
    )
    account = await session.scalar(query)
    if account is not None:
        return account
    try:
        async with session.begin_nested():
            account = ChannelAccount(
                brand_id=brand_id,
                kind=ChannelKind.WEBCHAT,
                handle="secure chat",
                external_user_id=_external_id(brand_id),
                api_base_url="",
                credentials_encrypted="",
                settings={},
            )
            session.add(account)
    except IntegrityError:
        # Another request made it first.
        return await session.scalar(query) or await webchat_account(session, brand_id)
    return account
