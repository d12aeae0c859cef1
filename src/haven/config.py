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
    #: DM reads are scarce on X (15 to 300 per 15 minutes by tier); webhooks bring DMs at once.
    dm_poll_interval_seconds: float = Field(default=6.0, gt=0)
    outbox_interval_seconds: float = Field(default=1.0, gt=0)
    #: How long a sender's claim on a delivery lasts; a crashed worker's claims wait this long.
    outbox_lease_seconds: float = Field(default=60.0, gt=0)
    #: After an attempt with an unknown outcome, how long to wait before looking on X for it.
    outbox_look_delay_seconds: float = Field(default=30.0, ge=0)
    #: Filtered stream: seconds without a byte (X sends a keep-alive every 20 s) after which the
    #: connection counts as dead and is reopened.
    stream_read_timeout_seconds: float = Field(default=21.0, gt=0)
    #: Filtered stream: at most this many minutes of posts to ask X to replay after a disconnect
    #: shorter than five minutes (across restarts too) or on a first start (0–5; only some X tiers
    #: allow it, so 0 by default: mentions polling fills the gap).
    stream_backfill_minutes: int = Field(default=0, ge=0, le=5)
    #: Filtered stream: multiplies X's prescribed reconnect delays (tests shrink them; below 1
    #: reconnects faster than X allows).
    stream_backoff_scale: float = Field(default=1.0, gt=0)
    #: Secure handoff: how long an invitation link stays valid, how many wrong answers lock it, how
    #: long a one-time code lives and how many codes one invitation may send.
    handoff_invitation_ttl_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    handoff_max_failed_attempts: int = Field(default=5, ge=1, le=20)
    handoff_code_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    handoff_max_codes: int = Field(default=3, ge=1, le=10)
    #: Verification requests (codes sent and checked, sign-ins) allowed per client address per window.
    handoff_attempts_per_window: int = Field(default=30, ge=1)
    handoff_window_seconds: int = Field(default=600, ge=1)
    #: The bank's customer directory (JSON, see ``haven.handoff.directory``); ``make demo`` writes one.
    directory_file: Path | None = None
    #: How one-time codes reach customers: the demo phone page, or the bank's gateway over HTTPS.
    code_sender: Literal["demo_phone", "http"] = "demo_phone"
    code_sender_url: str | None = None
    code_sender_token: SecretStr | None = None
    #: The bank's OpenID Connect provider; leave the issuer empty to offer one-time codes only.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: Where trained intent models are kept (``haven triage train`` writes versions here).
    model_dir: Path = VAR_DIR / "models" / "intent"
    #: ``fast`` (TF-IDF, linear) or ``hybrid`` (adds sentence embeddings; needs ``haven[embeddings]``).
    intent_model: Literal["fast", "hybrid"] = "fast"
    #: The region phone numbers without a country code are read in (ISO 3166 alpha-2).
    phone_region: str = Field(default="GB", pattern=r"^[A-Z]{2}$")
    #: How often routing re-queues unopened assignments and SLA breaches are looked for.
    routing_interval_seconds: float = Field(default=5.0, gt=0)
    login_attempts_per_window: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    log_level: str = "INFO"
    #: Estimated US$ per resource X bills, by operation (see ``haven.channels.x.usage``). X's
    #: pay-per-use prices change; set yours with e.g. ``HAVEN_X_PRICES='{"post.read": 0.005}'``.
    x_prices: dict[str, float] = Field(
        default_factory=lambda: {
            "post.read": 0.005,
            "user.read": 0.010,
            "dm.read": 0.010,
            "post.create": 0.015,
            "post.create.link": 0.200,
            "dm.create": 0.015,
        }
    )

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
        if self.code_sender == "demo_phone":
            raise ValueError("HAVEN_CODE_SENDER=demo_phone shows codes on a web page; use http in production")
        return self

    @model_validator(mode="after")
    def _complete_integrations(self) -> Settings:
        if self.code_sender == "http" and not (self.code_sender_url and self.code_sender_token):
            raise ValueError("HAVEN_CODE_SENDER=http needs HAVEN_CODE_SENDER_URL and HAVEN_CODE_SENDER_TOKEN")
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("HAVEN_OIDC_ISSUER needs HAVEN_OIDC_CLIENT_ID and HAVEN_OIDC_CLIENT_SECRET")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
