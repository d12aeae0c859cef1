"""Raising, listing and resolving alerts. Raising is idempotent per (account, kind) while open."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.db import queue_event
from haven.kit.actor import SYSTEM, Actor
from haven.kit.clock import utcnow
from haven.kit.errors import NotFound
from haven.models import Alert
from haven.realtime.events import alert_changed

log = logging.getLogger(__name__)

USAGE_CAP = "x.usage_cap"


async def raise_alert(
    session: AsyncSession, *, brand_id: int, channel_account_id: int | None, kind: str, detail: str
) -> Alert:
    """Open an alert, or refresh the open one of the same kind for the same account."""
    alert = await session.scalar(
        select(Alert).where(
            Alert.brand_id == brand_id,
            Alert.channel_account_id == channel_account_id,
            Alert.kind == kind,
            Alert.resolved_at.is_(None),
        )
    )
    if alert is not None:
        alert.detail = detail
        alert.last_seen_at = utcnow()
        return alert
    alert = Alert(brand_id=brand_id, channel_account_id=channel_account_id, kind=kind, detail=detail)
    session.add(alert)
    await session.flush()
    log.warning("alert %s raised for account %s: %s", kind, channel_account_id, detail)
    record(session, SYSTEM, "alert.raise", "alert", alert.id, {"kind": kind})
    queue_event(session, alert_changed(brand_id, alert.id))
    return alert


async def open_alerts(session: AsyncSession, brand_id: int) -> Sequence[Alert]:
    return (
        await session.scalars(
            select(Alert).where(Alert.brand_id == brand_id, Alert.resolved_at.is_(None)).order_by(Alert.id)
        )
    ).all()


async def resolve_alert(session: AsyncSession, actor: Actor, *, brand_id: int, alert_id: int) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None or alert.brand_id != brand_id:
        raise NotFound("no such alert")
    if alert.resolved_at is None:
        alert.resolved_at = utcnow()
        alert.resolved_by_agent_id = actor.agent_id
        record(session, actor, "alert.resolve", "alert", alert.id, {"kind": alert.kind})
        queue_event(session, alert_changed(brand_id, alert.id))
    return alert
