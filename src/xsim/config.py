"""Simulator settings, read from ``XSIM_*`` environment variables.

Every default is an obviously fake demo value: xsim is a test double and must never
be mistaken for, or pointed at, a real X account.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

USERNAME_PATTERN = r"^[A-Za-z0-9_]{1,15}$"
ID_PATTERN = r"^[0-9]{1,19}$"


class RateLimits(BaseModel):
    """Requests allowed per window, per endpoint and per caller (contract §9).

    ``*_app`` limits apply to the app bearer token, ``*_user`` limits to each user
    (OAuth 1.0a brand or a simulated user's bearer token). Endpoints that refuse app
    auth have no ``*_app`` field.
    """

    model_config = ConfigDict(extra="forbid")

    me_user: int = Field(default=75, ge=1)
    mentions_app: int = Field(default=450, ge=1)
    mentions_user: int = Field(default=300, ge=1)
    search_app: int = Field(default=450, ge=1)
    search_user: int = Field(default=300, ge=1)
    tweet_lookup_app: int = Field(default=450, ge=1)
    tweet_lookup_user: int = Field(default=900, ge=1)
    post_tweet_user: int = Field(default=100, ge=1)
    delete_tweet_user: int = Field(default=50, ge=1)
    #: Filtered stream (bearer only): connecting, and reading or changing the rules.
    stream_connect_app: int = Field(default=50, ge=1)
    stream_rules_read_app: int = Field(default=450, ge=1)
    stream_rules_write_app: int = Field(default=100, ge=1)
    #: Direct Messages (user auth only): reads, and sends (``DELETE /2/dm_events/:id`` counts here too).
    dm_read_user: int = Field(default=300, ge=1)
    dm_send_user: int = Field(default=200, ge=1)
    #: ``/2/webhooks`` (bearer only).
    webhooks_app: int = Field(default=450, ge=1)
    #: Account Activity subscriptions: list, delete and count (bearer); subscribe and check (user).
    account_activity_app: int = Field(default=450, ge=1)
    account_activity_user: int = Field(default=500, ge=1)


class SimConfig(BaseSettings):
    """Configuration of one simulator instance.

    Nested rate limits are set with a double underscore, e.g.
    ``XSIM_RATE_LIMITS__POST_TWEET_USER=5``.
    """

    model_config = SettingsConfigDict(env_prefix="XSIM_", env_nested_delimiter="__")

    brand_user_id: str = Field(default="1500000000000000001", pattern=ID_PATTERN)
    brand_username: str = Field(default="ExampleBankHelp", pattern=USERNAME_PATTERN)
    brand_name: str = Field(default="Example Bank", min_length=1, max_length=50)

    consumer_key: str = Field(default="xsim-demo-consumer-key", min_length=1)
    consumer_secret: str = Field(default="xsim-demo-consumer-secret", min_length=1)
    brand_access_token: str = Field(default="1500000000000000001-xsimDemoBrandAccessToken", min_length=1)
    brand_access_token_secret: str = Field(default="xsim-demo-brand-access-token-secret", min_length=1)
    app_bearer_token: str = Field(default="AAAAAAAAAAAAAAAAAAAAAxsimDemoAppBearerToken", min_length=1)

    rate_limits: RateLimits = Field(default_factory=RateLimits)
    window_seconds: int = Field(default=900, ge=1)
    reply_restriction: bool = False
    #: Posts (tweets and DMs through the API) the app may make before X answers 429
    #: ``usage-capped`` (Monthly, Product); unset means no cap.
    post_usage_cap: int | None = Field(default=None, ge=0)
    #: Seconds of silence after which the filtered stream sends an empty ``\r\n`` keep-alive line.
    stream_keepalive_seconds: float = Field(default=20.0, gt=0, le=300)
    #: Filtered-stream rules the app may hold, and the longest rule value (characters).
    stream_rule_limit: int = Field(default=1000, ge=1, le=100_000)
    stream_rule_max_length: int = Field(default=1024, ge=1, le=4096)

    public_url: str | None = Field(
        default=None,
        description="Base URL for `location` headers; derived from each request when unset.",
    )

    #: The simulated app's id (``application_id`` of subscription lists, DM ``source_app_id``).
    app_id: str = Field(default="29000001", pattern=ID_PATTERN)
    #: Let webhook URLs use http and carry a port. X requires https without a port; the default
    #: bends that rule because the simulator usually talks to localhost.
    webhook_allow_insecure: bool = True
    #: Webhooks one app may register, and Account Activity subscriptions across them.
    webhook_limit: int = Field(default=1, ge=0)
    subscription_limit: int = Field(default=3, ge=0)
    #: Seconds a webhook has to answer a CRC check or one delivery attempt (X allows 3 s for CRC).
    webhook_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    #: Extra attempts after a failed delivery, and the delay before the first (doubled each time).
    webhook_retries: int = Field(default=3, ge=0, le=10)
    webhook_retry_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
