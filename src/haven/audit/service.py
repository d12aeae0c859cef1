"""Writing audit entries. Always called inside the transaction of the change it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from haven.kit.actor import Actor
from haven.models import AuditEntry


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session's transaction. ``details`` must hold no private data."""
    entry = AuditEntry(
        actor_type=actor.kind,
        actor_id=str(actor.agent_id) if actor.agent_id is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
    )
    session.add(entry)
    return entry
