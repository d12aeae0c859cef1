"""The migrations are the only source of the schema: they must build exactly what the models say."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from haven.migrate import current_revision, head_revision
from haven.models import Base
from haven.runtime import Runtime


async def test_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with runtime.database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    assert await current_revision(runtime.database.engine) == head_revision()
