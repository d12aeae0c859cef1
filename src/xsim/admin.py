"""``/_sim/*``: unauthenticated controls for tests and the demo.

Anyone who can reach these can read every user's token: bind xsim to localhost.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator

from xsim.config import ID_PATTERN, USERNAME_PATTERN, RateLimits, SimConfig
from xsim.errors import JSON, generic, invalid_body
from xsim.render import iso_time
from xsim.simulator import Simulator, get_sim
from xsim.store import MAX_FOLLOWERS, Tweet, User, UsernameTaken

router = APIRouter(prefix="/_sim")
Sim = Annotated[Simulator, Depends(get_sim)]

#: A whole number of followers, 0 to 10^9 (``"5"``, ``5.0`` and ``true`` are refused).
Followers = Annotated[StrictInt, Field(ge=0, le=MAX_FOLLOWERS)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    #: Display name; the username when left out.
    name: str | None = Field(default=None, min_length=1, max_length=50)
    #: Whether anyone may DM the user (change it later with ``PATCH /_sim/users/{username}``).
    accepts_dms: bool = True
    #: The audience X reports for the user (``public_metrics.followers_count``, v1.1 ``followers_count``).
    followers_count: Followers = 0
    #: The verified badge (``verified`` in v2 and v1.1 user objects).
    verified: StrictBool = False


class UserPatch(BaseModel):
    """``PATCH /_sim/users/{username}``: the given settings change, the others stay."""

    model_config = ConfigDict(extra="forbid")

    accepts_dms: StrictBool | None = None
    followers_count: Followers | None = None
    verified: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> UserPatch:
        if self.accepts_dms is None and self.followers_count is None and self.verified is None:
            raise ValueError("give at least one of accepts_dms, followers_count and verified")
        return self


class ConfigPatch(BaseModel):
    """Runtime changes; unset fields keep their value. ``rate_limits`` may be partial."""

    model_config = ConfigDict(extra="forbid")

    reply_restriction: bool | None = None
    stream_keepalive_seconds: float | None = Field(default=None, gt=0, le=300)
    stream_rule_limit: int | None = Field(default=None, ge=1, le=100_000)
    stream_rule_max_length: int | None = Field(default=None, ge=1, le=4096)
    window_seconds: int | None = Field(default=None, ge=1)
    rate_limits: dict[str, int] = Field(default_factory=dict)
    webhook_allow_insecure: bool | None = None
    webhook_limit: int | None = Field(default=None, ge=0)
    subscription_limit: int | None = Field(default=None, ge=0)
    webhook_timeout_seconds: float | None = Field(default=None, gt=0, le=60)
    webhook_retries: int | None = Field(default=None, ge=0, le=10)
    webhook_retry_backoff_seconds: float | None = Field(default=None, ge=0, le=60)
    #: Posts (tweets and DMs) the app may still make before X answers ``usage-capped``; -1 lifts it.
    post_usage_cap: int | None = Field(default=None, ge=-1)


def user_summary(user: User) -> JSON:
    return {"id": user.id, "username": user.username, "name": user.name, "is_brand": user.is_brand}


def user_settings(user: User) -> JSON:
    """``user_summary`` plus what ``PATCH /_sim/users/{username}`` changes."""
    return user_summary(user) | {
        "accepts_dms": user.accepts_dms,
        "followers_count": user.followers_count,
        "verified": user.verified,
    }


def tweet_record(tweet: Tweet, author: User | None) -> JSON:
    return {
        "id": tweet.id,
        "author_id": tweet.author_id,
        "author_username": author.username if author else None,
        "text": tweet.text,
        "created_at": iso_time(tweet.created_at),
        "conversation_id": tweet.conversation_id,
        "in_reply_to_tweet_id": tweet.in_reply_to_tweet_id,
        "in_reply_to_user_id": tweet.in_reply_to_user_id,
        "quoted_tweet_id": tweet.quoted_tweet_id,
        "entities": tweet.entities.to_json(),
        "lang": tweet.lang,
        "deleted": tweet.deleted,
    }


def config_view(config: SimConfig) -> JSON:
    """The configuration without credentials."""
    return config.model_dump(
        include={
            "brand_user_id",
            "brand_username",
            "brand_name",
            "rate_limits",
            "window_seconds",
            "reply_restriction",
            "stream_keepalive_seconds",
            "stream_rule_limit",
            "stream_rule_max_length",
            "public_url",
            "app_id",
            "webhook_allow_insecure",
            "webhook_limit",
            "subscription_limit",
            "webhook_timeout_seconds",
            "webhook_retries",
            "webhook_retry_backoff_seconds",
            "post_usage_cap",
        }
    )


def _state(sim: Simulator) -> JSON:
    tweets = sim.store.tweets()
    deleted = sum(1 for tweet in tweets if tweet.deleted)
    return {
        "brand": user_summary(sim.store.brand),
        "users": len(sim.store.users()) - 1,
        "tweets": len(tweets) - deleted,
        "deleted_tweets": deleted,
        "config": config_view(sim.config),
    }


@router.post("/users", status_code=201)
async def create_user(body: NewUser, sim: Sim) -> JSONResponse:
    try:
        user = await sim.store.create_user(
            body.username,
            body.name or body.username,
            accepts_dms=body.accepts_dms,
            followers_count=body.followers_count,
            verified=body.verified,
        )
    except UsernameTaken:
        raise generic(409, f"The username {body.username} is already taken") from None
    return JSONResponse(
        {"id": user.id, "username": user.username, "name": user.name, "access_token": user.access_token},
        status_code=201,
    )


@router.get("/users")
async def list_users(sim: Sim) -> JSON:
    return {"users": [user_summary(user) for user in sim.store.users()]}


@router.get("/users/{username}")
async def get_user(username: str, sim: Sim) -> JSON:
    user = sim.store.user_by_username(username)
    if user is None:
        raise generic(404, f"No user named {username}")
    return user_settings(user) | {"access_token": user.access_token}


@router.patch("/users/{username}")
async def patch_user(username: str, body: UserPatch, sim: Sim) -> JSON:
    user = sim.store.user_by_username(username)
    if user is None:
        raise generic(404, f"No user named {username}")
    await sim.store.update_user(
        user, accepts_dms=body.accepts_dms, followers_count=body.followers_count, verified=body.verified
    )
    return user_settings(user)


@router.get("/tweets")
async def list_tweets(
    sim: Sim,
    conversation_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    author: str | None = None,
) -> JSON:
    """Every stored tweet, deleted ones included, oldest first; optionally filtered."""
    author_id = None
    if author is not None:
        author_user = sim.store.user_by_username(author)
        if author_user is None:
            return {"tweets": []}
        author_id = author_user.id
    tweets = [
        tweet
        for tweet in sim.store.tweets()
        if (conversation_id is None or tweet.conversation_id == conversation_id)
        and (author_id is None or tweet.author_id == author_id)
    ]
    return {"tweets": [tweet_record(tweet, sim.store.user(tweet.author_id)) for tweet in tweets]}


@router.get("/state")
async def state(sim: Sim) -> JSON:
    return _state(sim)


@router.post("/reset")
async def reset(sim: Sim) -> JSON:
    await sim.reset()
    return _state(sim)


@router.get("/config")
async def get_config(sim: Sim) -> JSON:
    return config_view(sim.config)


@router.post("/config")
async def patch_config(patch: ConfigPatch, sim: Sim) -> JSON:
    try:
        limits = RateLimits.model_validate(sim.config.rate_limits.model_dump() | patch.rate_limits)
    except ValidationError as error:
        raise invalid_body({**e, "loc": ("rate_limits", *e["loc"])} for e in error.errors()) from None
    updates = patch.model_dump(exclude_none=True, exclude={"rate_limits"})
    if updates.get("post_usage_cap") == -1:
        updates["post_usage_cap"] = None
    if "post_usage_cap" in updates:
        sim.posts_made = 0
    sim.config = sim.config.model_copy(update={**updates, "rate_limits": limits})
    return config_view(sim.config)
