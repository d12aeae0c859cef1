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


async def add_to_counters(
    session: AsyncSession,
    model: type[Any],
    key: dict[str, Any],
    increments: dict[str, int],
    unique_columns: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT DO UPDATE SET column = column + n: concurrent writers add up, never lose."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**key, **increments)
    table = model.__table__
    statement = statement.on_conflict_do_update(
        index_elements=list(unique_columns),
        set_={column: table.c[column] + statement.excluded[column] for column in increments},
    )
    await session.execute(statement)
