"""Creating and deleting tweets, shared by ``POST /2/tweets`` and the customer page."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xsim.config import ID_PATTERN
from xsim.errors import (
    JSON,
    forbidden,
    invalid_body,
    invalid_request,
    not_authorized_for_resource,
    resource_not_found,
)
from xsim.simulator import Simulator
from xsim.store import (
    DuplicateContent,
    ReferencedTweetUnavailable,
    ReplyNotAllowed,
    Tweet,
    User,
)

MAX_TWEET_LENGTH = 280


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    in_reply_to_tweet_id: str = Field(pattern=ID_PATTERN)


class CreateTweetBody(BaseModel):
    """The part of the ``POST /2/tweets`` body xsim supports; other fields are a 400."""

    model_config = ConfigDict(extra="forbid")

    text: str
    reply: ReplyBody | None = None
    quote_tweet_id: str | None = Field(default=None, pattern=ID_PATTERN)


def parse_create_body(raw: bytes) -> CreateTweetBody:
    """Parse the JSON body only after authentication, so that 401 comes before 400."""
    try:
        return CreateTweetBody.model_validate_json(raw)
    except ValidationError as error:
        raise invalid_body(error.errors()) from None


_UNAVAILABLE = {
    "replied_to": "You attempted to reply to a Tweet that is deleted or not visible to you.",
    "quoted": "You attempted to quote a Tweet that is deleted or not visible to you.",
}


async def create_tweet(
    sim: Simulator, author: User, body: CreateTweetBody, *, lang: str | None = None
) -> Tweet:
    """Validate and store a tweet, or raise the ``ApiError`` X would answer with.

    ``lang`` is the language the (simulated) author wrote in; X detects it, so the API's body has
    no such field and only the customer page passes one. Left out, the store decides.
    """
    if not body.text.strip():
        raise invalid_request("$.text: the tweet text must not be empty")
    length = len(unicodedata.normalize("NFC", body.text))
    if length > MAX_TWEET_LENGTH:
        raise invalid_request(
            f"$.text: the tweet text is {length} characters long; at most {MAX_TWEET_LENGTH} are allowed"
        )
    try:
        return await sim.store.create_tweet(
            author=author,
            text=body.text,
            in_reply_to_tweet_id=body.reply.in_reply_to_tweet_id if body.reply else None,
            quote_tweet_id=body.quote_tweet_id,
            reply_restriction=sim.config.reply_restriction,
            lang=lang,
        )
    except DuplicateContent:
        raise forbidden("You are not allowed to create a Tweet with duplicate content.") from None
    except ReferencedTweetUnavailable as error:
        raise forbidden(_UNAVAILABLE[error.kind]) from None
    except ReplyNotAllowed:
        raise not_authorized_for_resource(
            "You can only reply to or quote posts where you are mentioned or are the author."
        ) from None


async def delete_tweet(sim: Simulator, user: User, tweet_id: str) -> JSON:
    """The response body for deleting ``tweet_id`` as ``user`` (owner only)."""
    tweet = sim.store.live_tweet(tweet_id)
    if tweet is None:
        return {"errors": [resource_not_found("tweet", "id", tweet_id)]}
    if tweet.author_id != user.id:
        raise forbidden("You are not allowed to delete a Tweet that does not belong to you.")
    await sim.store.delete_tweet(tweet)
    return {"data": {"deleted": True}}


def created_response_body(tweet: Tweet) -> JSON:
    return {"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}
