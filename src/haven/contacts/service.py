"""Finding or creating the contact behind a channel identity (one contact per X user id)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.base import Author
from haven.models import ChannelKind, Contact, ContactIdentity


async def find_contact(
    session: AsyncSession, *, brand_id: int, kind: ChannelKind, external_id: str
) -> Contact | None:
    identity = await session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.brand_id == brand_id,
            ContactIdentity.channel_kind == kind,
            ContactIdentity.external_id == external_id,
        )
    )
    return None if identity is None else await session.get_one(Contact, identity.contact_id)


async def contact_for_author(
    session: AsyncSession, *, brand_id: int, kind: ChannelKind, author: Author
) -> Contact:
    """Return the author's contact, creating it on first sight and refreshing a changed handle."""
    identity = await session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.brand_id == brand_id,
            ContactIdentity.channel_kind == kind,
            ContactIdentity.external_id == author.external_id,
        )
    )
    if identity is not None:
        if (identity.handle, identity.display_name) != (author.handle, author.display_name):
            identity.handle = author.handle
            identity.display_name = author.display_name
        return await session.get_one(Contact, identity.contact_id)
    contact = Contact(brand_id=brand_id, display_name=author.display_name)
    identity = ContactIdentity(
        brand_id=brand_id,
        contact=contact,
        channel_kind=kind,
        external_id=author.external_id,
        handle=author.handle,
        display_name=author.display_name,
    )
    session.add_all([contact, identity])
    await session.flush()
    return contact
