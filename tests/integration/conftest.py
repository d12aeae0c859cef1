from __future__ import annotations

import pytest

from haven.runtime import Runtime
from tests.factories import World, make_world


@pytest.fixture(autouse=True)
async def each_test_starts_empty(empty_database: None) -> None:
    """Each integration test starts from empty tables (the schema comes from the migrations)."""


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return await make_world(runtime)
