"""Portable SQL helpers for the two backends Haven supports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignoring_duplicates(
    session: AsyncSession,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    unique_columns: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT DO NOTHING: storing a row twice is a no-op, not an error."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).on_conflict_do_nothing(index_elements=list(unique_columns))
    await session.execute(statement, list(rows))
