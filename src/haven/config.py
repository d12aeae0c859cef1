"""Runtime settings, read from the environment with the ``HAVEN_`` prefix.

Defaults give a newcomer a working embedded setup (SQLite under ``var/``, in-process events).
Production refuses the demo secrets so that a forgotten variable cannot ship a known key.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Development-only key material; ``environment=production`` refuses to start with it.
DEMO_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"haven-demo-encryption-key-32byte").decode()

VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Every knob Haven reads at start-up. See the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite+aiosqlite:///{VAR_DIR}/haven.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    #: ``kid:base64key`` pairs, comma-separated; the first one encrypts, all of them decrypt.
    encryption_keys: SecretStr = SecretStr(f"demo:{DEMO_ENCRYPTION_KEY}")
    session_ttl_minutes: int = Field(default=12 * 60, ge=5)
    cookie_secure: bool = False
    run_workers: bool = True
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    outbox_interval_seconds: float = Field(default=1.0, gt=0)
    login_attempts_per_window: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    log_level: str = "INFO"

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_demo_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if DEMO_ENCRYPTION_KEY in self.encryption_keys.get_secret_value():
            raise ValueError("HAVEN_ENCRYPTION_KEYS must not contain the demo key in production")
        if not self.cookie_secure:
            raise ValueError("HAVEN_COOKIE_SECURE must be true in production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
