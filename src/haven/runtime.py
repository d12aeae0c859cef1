"""The long-lived parts a process needs, built once from Settings and shared by web and workers."""

from __future__ import annotations

from dataclasses import dataclass

from haven.config import Settings
from haven.db import Database, create_engine
from haven.realtime.bus import EventBus, create_bus
from haven.security.crypto import FieldCipher
from haven.triage.engine import Triager


@dataclass(slots=True)
class Runtime:
    settings: Settings
    database: Database
    bus: EventBus
    cipher: FieldCipher
    triager: Triager

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        bus = create_bus(settings.redis_url)
        return cls(
            settings=settings,
            database=Database(create_engine(settings.database_url), bus),
            bus=bus,
            cipher=FieldCipher.from_config(settings.encryption_keys.get_secret_value()),
            triager=Triager(settings.model_dir, settings.intent_model, phone_region=settings.phone_region),
        )

    async def start(self) -> None:
        await self.bus.start()

    async def close(self) -> None:
        await self.bus.close()
        await self.database.dispose()
