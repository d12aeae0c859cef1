"""Tweets and users as v2 JSON: requested fields only, expansions in ``includes``."""

from __future__ import annotations

from datetime import datetime

from xsim.errors import JSON, resource_not_found
from xsim.params import Selection
from xsim.store import Store, Tweet, User


def iso_time(moment: datetime) -> str:
    """``2021-01-06T18:40:40.000Z``: UTC, millisecond precision."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def tweet_json(tweet: Tweet, fields: frozenset[str]) -> JSON:
    out: JSON = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    if "author_id" in fields:
        out["author_id"] = tweet.author_id
    if "conversation_id" in fields:
        out["conversation_id"] = tweet.conversation_id
    if "created_at" in fields:
        out["created_at"] = iso_time(tweet.created_at)
    if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
        out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
    if "referenced_tweets" in fields and tweet.referenced_tweets:
        out["referenced_tweets"] = [{"type": kind, "id": id_} for kind, id_ in tweet.referenced_tweets]
    if "entities" in fields and (entities := tweet.entities.to_json()):
        out["entities"] = entities
    if "lang" in fields:
        out["lang"] = tweet.lang
    if "possibly_sensitive" in fields:
        out["possibly_sensitive"] = False
    if "reply_settings" in fields:
        out["reply_settings"] = "everyone"
    return out


def public_metrics(store: Store, user: User) -> JSON:
    """What X counts for a user; xsim has no follows or lists, so those are 0 (or as set)."""
    return {
        "followers_count": user.followers_count,
        "following_count": 0,
        "tweet_count": store.tweet_count(user.id),
        "listed_count": 0,
    }


def user_json(store: Store, user: User, fields: frozenset[str]) -> JSON:
    out: JSON = {"id": user.id, "name": user.name, "username": user.username}
    if "created_at" in fields:
        out["created_at"] = iso_time(user.created_at)
    if "description" in fields:
        out["description"] = ""
    if "protected" in fields:
        out["protected"] = False
    if "verified" in fields:
        out["verified"] = user.verified
    if "public_metrics" in fields:
        out["public_metrics"] = public_metrics(store, user)
    return out


def _expand(store: Store, tweets: list[Tweet], selection: Selection) -> tuple[JSON, list[JSON]]:
    """The ``includes`` object and partial ``errors`` for ``tweets``."""
    expansions = selection.expansions
    user_ids: dict[str, None] = {}  # an ordered set
    referenced: dict[str, Tweet] = {}
    errors: list[JSON] = []
    for tweet in tweets:
        if "author_id" in expansions:
            user_ids[tweet.author_id] = None
        if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
            user_ids[tweet.in_reply_to_user_id] = None
        if "entities.mentions.username" in expansions:
            user_ids.update((m.user_id, None) for m in tweet.entities.mentions if m.user_id)
        if expansions & {"referenced_tweets.id", "referenced_tweets.id.author_id"}:
            for _, ref_id in tweet.referenced_tweets:
                ref = store.live_tweet(ref_id)
                if ref is not None:
                    referenced[ref.id] = ref
                elif "referenced_tweets.id" in expansions:
                    errors.append(resource_not_found("tweet", "referenced_tweets.id", ref_id))
    if "referenced_tweets.id.author_id" in expansions:
        user_ids.update((ref.author_id, None) for ref in referenced.values())

    includes: JSON = {}
    users = [user for user_id in user_ids if (user := store.user(user_id))]
    if users:
        includes["users"] = [user_json(store, user, selection.user_fields) for user in users]
    if referenced and "referenced_tweets.id" in expansions:
        includes["tweets"] = [tweet_json(t, selection.tweet_fields) for t in referenced.values()]
    return includes, errors


def tweet_document(store: Store, tweet: Tweet, selection: Selection) -> JSON:
    """``{"data": tweet, "includes"?, "errors"?}`` for a single-tweet lookup."""
    return _document(store, [tweet], selection, tweet_json(tweet, selection.tweet_fields))


def page_document(store: Store, tweets: list[Tweet], selection: Selection, next_token: str | None) -> JSON:
    """A timeline page; an empty page is just ``{"meta": {"result_count": 0}}``."""
    if not tweets:
        return {"meta": {"result_count": 0}}
    data = [tweet_json(tweet, selection.tweet_fields) for tweet in tweets]
    document = _document(store, tweets, selection, data)
    meta: JSON = {
        "newest_id": tweets[0].id,
        "oldest_id": tweets[-1].id,
        "result_count": len(tweets),
    }
    if next_token:
        meta["next_token"] = next_token
    document["meta"] = meta
    return document


def _document(store: Store, tweets: list[Tweet], selection: Selection, data: object) -> JSON:
    document: JSON = {"data": data}
    includes, errors = _expand(store, tweets, selection)
    if includes:
        document["includes"] = includes
    if errors:
        document["errors"] = errors
    return document
