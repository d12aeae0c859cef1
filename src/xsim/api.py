"""The X API v2 routes xsim serves, plus ``POST /oauth2/token``."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from itertools import islice
from typing import Annotated
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from xsim.auth import AuthKind, Principal, authenticate
from xsim.errors import (
    app_only_authentication,
    invalid_parameter,
    legacy,
    resource_not_found,
    too_many_requests,
    unsupported_authentication,
)
from xsim.middleware import remember_quota
from xsim.paging import page_request, paginate
from xsim.params import (
    FIELD_PARAMS,
    TWEET_EXPANSIONS,
    USER_EXPANSIONS,
    check_id,
    reject_unknown,
    selection,
)
from xsim.posting import create_tweet, created_response_body, delete_tweet, parse_create_body
from xsim.query import MAX_QUERY_LENGTH, QueryError, parse_query
from xsim.ratelimit import Endpoint, limit_for
from xsim.render import page_document, tweet_document, user_json
from xsim.simulator import Simulator, get_sim
from xsim.store import Store, Tweet, User
from xsim.usage import charge_post

router = APIRouter()

#: Only this many of the newest mentions can be paged through (contract §3).
MENTIONS_REACHABLE = 800
SEARCH_WINDOW = timedelta(days=7)

_TIMELINE_PARAMS = (*FIELD_PARAMS, "since_id", "until_id", "max_results", "start_time", "end_time")
_MENTIONS_PARAMS = (*_TIMELINE_PARAMS, "pagination_token")
_SEARCH_PARAMS = (*_TIMELINE_PARAMS, "query", "next_token", "pagination_token", "sort_order")

Sim = Annotated[Simulator, Depends(get_sim)]


def guard(endpoint: Endpoint, *, only: AuthKind | None = None) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: authenticate, refuse a caller the endpoint does not take (``only`` one kind, or
    app auth where it has no limit), and count the request against the caller's quota."""

    async def dependency(request: Request) -> Principal:
        sim = get_sim(request)
        principal = await authenticate(
            request, config=sim.config, store=sim.store, nonces=sim.nonces, now=sim.clock()
        )
        if only is AuthKind.APP and principal.kind is not AuthKind.APP:
            brand = principal.user is not None and principal.user.is_brand
            raise app_only_authentication("OAuth 1.0a User Context" if brand else "OAuth 2.0 User Context")
        limit = limit_for(sim.config.rate_limits, endpoint, principal.kind)
        if limit is None or (only is not None and principal.kind is not only):
            raise unsupported_authentication()
        quota = sim.rate_limiter.hit(
            endpoint,
            principal.rate_limit_key,
            limit=limit,
            window_seconds=sim.config.window_seconds,
            now=sim.clock(),
        )
        remember_quota(request, quota)
        if quota.exceeded:
            raise too_many_requests()
        return principal

    return dependency


def app_guard(endpoint: Endpoint) -> Callable[[Request], Awaitable[Principal]]:
    """:func:`guard` for endpoints that take the app bearer token only."""
    return guard(endpoint, only=AuthKind.APP)


def user_guard(endpoint: Endpoint) -> Callable[[Request], Awaitable[User]]:
    """Like :func:`guard` for endpoints that act as a user; yields that user."""
    authorize = guard(endpoint)

    async def dependency(request: Request) -> User:
        principal = await authorize(request)
        if principal.user is None:
            raise unsupported_authentication()
        return principal.user

    return dependency


@router.get("/2/users/me")
async def get_me(
    request: Request, sim: Sim, user: Annotated[User, Depends(user_guard(Endpoint.ME))]
) -> JSONResponse:
    reject_unknown(request.query_params, FIELD_PARAMS)
    fields = selection(request.query_params, USER_EXPANSIONS)
    return JSONResponse({"data": user_json(sim.store, user, fields.user_fields)})


def _mentions_of(store: Store, user: User) -> Iterator[Tweet]:
    """Tweets by others that @-mention ``user`` or reply to one of their tweets."""
    for tweet in store.live_tweets_newest_first():
        if tweet.author_id != user.id and (
            tweet.in_reply_to_user_id == user.id or any(m.user_id == user.id for m in tweet.entities.mentions)
        ):
            yield tweet


@router.get("/2/users/{user_id}/mentions")
async def get_mentions(
    user_id: str,
    request: Request,
    sim: Sim,
    _: Annotated[Principal, Depends(guard(Endpoint.MENTIONS))],
) -> JSONResponse:
    params = request.query_params
    reject_unknown(params, _MENTIONS_PARAMS)
    check_id("id", user_id)
    fields = selection(params, TWEET_EXPANSIONS)
    paging = page_request(params, min_results=5, token_params=("pagination_token",))
    user = sim.store.user(user_id)
    if user is None:
        return JSONResponse({"errors": [resource_not_found("user", "id", user_id)]})
    reachable = islice(_mentions_of(sim.store, user), MENTIONS_REACHABLE)
    tweets, next_token = paginate(reachable, paging)
    return JSONResponse(page_document(sim.store, tweets, fields, next_token))


@router.get("/2/tweets/search/recent")
async def search_recent(
    request: Request, sim: Sim, _: Annotated[Principal, Depends(guard(Endpoint.SEARCH))]
) -> JSONResponse:
    params = request.query_params
    reject_unknown(params, _SEARCH_PARAMS)
    query = params.get("query", "")
    if not 1 <= len(query) <= MAX_QUERY_LENGTH:
        raise invalid_parameter(
            "query",
            query,
            f"The `query` query parameter value [{query}] is not between 1 and {MAX_QUERY_LENGTH}",
        )
    try:
        matcher = parse_query(query)
    except QueryError as error:
        raise invalid_parameter(
            "query", query, f"There were errors processing your request: {error}"
        ) from None
    sort_order = params.get("sort_order", "recency")
    if sort_order not in ("recency", "relevancy"):  # both give newest first here
        raise invalid_parameter(
            "sort_order",
            sort_order,
            f"The `sort_order` query parameter value [{sort_order}] is not one of [recency,relevancy]",
        )
    fields = selection(params, TWEET_EXPANSIONS)
    paging = page_request(params, min_results=10, token_params=("next_token", "pagination_token"))
    oldest_searchable = sim.clock() - SEARCH_WINDOW.total_seconds()
    matching = (
        tweet
        for tweet in sim.store.live_tweets_newest_first()
        if tweet.created_at.timestamp() >= oldest_searchable and matcher.matches(tweet, sim.store.username_of)
    )
    tweets, next_token = paginate(matching, paging)
    return JSONResponse(page_document(sim.store, tweets, fields, next_token))


@router.get("/2/tweets/{tweet_id}")
async def get_tweet(
    tweet_id: str,
    request: Request,
    sim: Sim,
    _: Annotated[Principal, Depends(guard(Endpoint.TWEET_LOOKUP))],
) -> JSONResponse:
    reject_unknown(request.query_params, FIELD_PARAMS)
    check_id("id", tweet_id)
    fields = selection(request.query_params, TWEET_EXPANSIONS)
    tweet = sim.store.live_tweet(tweet_id)
    if tweet is None:
        return JSONResponse({"errors": [resource_not_found("tweet", "id", tweet_id)]})
    return JSONResponse(tweet_document(sim.store, tweet, fields))


@router.post("/2/tweets")
async def post_tweet(
    request: Request, sim: Sim, user: Annotated[User, Depends(user_guard(Endpoint.POST_TWEET))]
) -> JSONResponse:
    body = parse_create_body(await request.body())
    charge_post(sim)
    tweet = await create_tweet(sim, user, body)
    base = sim.config.public_url or str(request.base_url)
    return JSONResponse(
        created_response_body(tweet),
        status_code=201,
        headers={"location": f"{base.rstrip('/')}/2/tweets/{tweet.id}"},
    )


@router.delete("/2/tweets/{tweet_id}")
async def remove_tweet(
    tweet_id: str,
    sim: Sim,
    user: Annotated[User, Depends(user_guard(Endpoint.DELETE_TWEET))],
) -> JSONResponse:
    check_id("id", tweet_id)
    return JSONResponse(await delete_tweet(sim, user, tweet_id))


@router.post("/oauth2/token")
async def app_token(request: Request, sim: Sim) -> JSONResponse:
    """App-only bearer token for ``Basic base64(key:secret)``; the same token every time."""
    if not _valid_basic_credentials(request.headers.get("authorization", ""), sim):
        raise legacy(403, 99, "Unable to verify your credentials", "authenticity_token_error")
    form = dict(parse_qsl((await request.body()).decode(errors="replace")))
    if form.get("grant_type") != "client_credentials":
        raise legacy(400, 170, "Missing required parameter: grant_type", "forbidden_missing_parameter")
    return JSONResponse({"token_type": "bearer", "access_token": sim.config.app_bearer_token})


def _valid_basic_credentials(header: str, sim: Simulator) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    key, colon, secret = decoded.partition(":")
    expected = f"{sim.config.consumer_key}:{sim.config.consumer_secret}"
    # RFC 6749 §2.3.1: each half is form-urlencoded before joining.
    given = f"{unquote(key)}:{unquote(secret)}" if colon else ""
    return hmac.compare_digest(given.encode(), expected.encode())
