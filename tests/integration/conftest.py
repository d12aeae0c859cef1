from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from haven.models import Base
from haven.runtime import Runtime
from tests.factories import World, make_world


@pytest.fixture(autouse=True)
async def clean_database(runtime: Runtime) -> AsyncIterator[None]:
    """Each integration test starts from empty tables (the schema comes from the migrations)."""
    async with runtime.database.unit_of_work() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
    yield


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return await make_world(runtime)
