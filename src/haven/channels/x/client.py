"""An async client for the X API v2 subset Haven uses (contract: docs in shared x-api-contract)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from haven.channels.x.oauth1 import OAuth1Signer
from haven.channels.x.usage import (
    DM_CREATE,
    DM_READ,
    POST_CREATE,
    POST_CREATE_WITH_LINK,
    POST_READ,
    USER_READ,
    UsageMeter,
    has_link,
)

#: Fields and expansions requested on every read, so that each tweet carries what threading needs
#: (and triage: the post's ``lang``, its author's ``verified`` badge and ``public_metrics`` audience).
TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities,lang"
EXPANSIONS = "author_id,referenced_tweets.id"
USER_FIELDS = "name,username,verified,public_metrics"
DM_EVENT_FIELDS = "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids"
#: Usage-meter operations of the filtered stream (rule reads and changes; connection attempts).
STREAM_RULES = "stream.rules"
STREAM_CONNECT = "stream.connect"


class XCredentials(BaseModel):
    """The app's consumer pair and bearer token, and the brand's OAuth 1.0a user token."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    bearer_token: str


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The 15-minute window of the endpoint just called and, where X sends one, the 24-hour window."""

    limit: int
    remaining: int
    reset_at: datetime
    daily_remaining: int | None = None
    daily_reset_at: datetime | None = None

    @property
    def exhausted_until(self) -> datetime | None:
        """When calling again makes sense if a window is used up (the later one wins), else None."""
        until = None
        if self.remaining <= 0:
            until = self.reset_at
        if self.daily_remaining is not None and self.daily_remaining <= 0 and self.daily_reset_at:
            until = max(until or self.daily_reset_at, self.daily_reset_at)
        return until


@dataclass(frozen=True, slots=True)
class Created:
    """What X answered to a post or a DM: the new id, and the rate limit the answer carried."""

    id: str
    rate_limit: RateLimit | None
    #: For a DM, its conversation (``<smaller id>-<larger id>``).
    dm_conversation_id: str | None = None


class XApiError(Exception):
    """An error answer from X, with the Problem fields that decide what to do next."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        problem_type: str = "",
        rate_limit: RateLimit | None = None,
        period: str = "",
    ) -> None:
        super().__init__(f"X API {status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.problem_type = problem_type
        self.rate_limit = rate_limit
        #: For a usage cap, ``Daily`` or ``Monthly``.
        self.period = period

    @property
    def is_usage_cap(self) -> bool:
        return self.problem_type.endswith("/usage-capped")

    @property
    def retry_at(self) -> datetime:
        """When trying again makes sense: the window reset + 1 s on 429 (the 24-hour window's when
        that one is used up), at least 60 s when X sent no reset, else a short pause."""
        now = datetime.now(UTC)
        if self.status == 429:
            reset = self.rate_limit.exhausted_until if self.rate_limit is not None else None
            if reset is None and self.rate_limit is not None:
                reset = self.rate_limit.reset_at
            if reset is not None:
                return max(reset + timedelta(seconds=1), now)
            return now + timedelta(seconds=60)
        return now + timedelta(seconds=5)

    @property
    def terminal(self) -> bool:
        """Client errors other than rate limiting will fail the same way again."""
        if self.is_usage_cap:
            return True
        return 400 <= self.status < 500 and self.status not in (408, 429)


def _read_params(max_results: int) -> dict[str, str]:
    return {
        "max_results": str(max_results),
        "tweet.fields": TWEET_FIELDS,
        "expansions": EXPANSIONS,
        "user.fields": USER_FIELDS,
    }


def _epoch(value: str) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _daily_window(headers: httpx.Headers) -> tuple[int | None, datetime | None]:
    """The tighter of the app's and the user's 24-hour windows, when X sends them."""
    windows = []
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour"):
        try:
            windows.append((int(headers[f"{prefix}-remaining"]), _epoch(headers[f"{prefix}-reset"])))
        except (KeyError, ValueError, OverflowError, OSError):
            continue
    if not windows:
        return None, None
    return min(windows)


def parse_rate_limit(headers: httpx.Headers) -> RateLimit | None:
    try:
        limit = int(headers["x-rate-limit-limit"])
        remaining = int(headers["x-rate-limit-remaining"])
        reset_at = _epoch(headers["x-rate-limit-reset"])
    except (KeyError, ValueError, OverflowError, OSError):
        return None
    daily_remaining, daily_reset_at = _daily_window(headers)
    return RateLimit(limit, remaining, reset_at, daily_remaining, daily_reset_at)


def _problem(response: httpx.Response) -> tuple[str, str, str, str]:
    """Title, detail, type and (usage caps) period from either error shape X uses (v2 Problem or
    v1.1 ``errors``)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase, response.text[:200], "", ""
    if not isinstance(body, dict):
        return response.reason_phrase, str(body)[:200], "", ""
    title = str(body.get("title") or response.reason_phrase)
    detail = str(body.get("detail") or "")
    errors = body.get("errors")
    if not detail and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        detail = str(errors[0].get("message") or errors[0].get("detail") or "")
    return title, detail[:500], str(body.get("type") or ""), str(body.get("period") or "")


class XClient:
    """Reads with the app bearer token; writes as the brand with OAuth 1.0a."""

    def __init__(
        self,
        base_url: str,
        credentials: XCredentials,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "Haven/0.1"},
        )
        self._bearer = {"Authorization": f"Bearer {credentials.bearer_token}"}
        self._user_auth = OAuth1Signer(
            credentials.consumer_key,
            credentials.consumer_secret,
            credentials.access_token,
            credentials.access_token_secret,
        )
        self.last_rate_limit: RateLimit | None = None
        self.usage = UsageMeter()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        user_auth: bool,
        operation: str,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body, _ = await self._call_with_limit(
            method, path, user_auth=user_auth, operation=operation, params=params, json=json
        )
        return body

    async def _call_with_limit(
        self,
        method: str,
        path: str,
        *,
        user_auth: bool,
        operation: str,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], RateLimit | None]:
        """One request; returns the body and the rate limit this very response carried."""
        self.usage.count_request(operation)
        response = await self._http.request(
            method,
            path,
            params=params,
            json=json,
            auth=self._user_auth if user_auth else httpx.USE_CLIENT_DEFAULT,
            headers=None if user_auth else self._bearer,
        )
        rate_limit = parse_rate_limit(response.headers)
        self.last_rate_limit = rate_limit or self.last_rate_limit
        if response.status_code >= 400:
            title, detail, problem_type, period = _problem(response)
            raise XApiError(
                response.status_code,
                title,
                detail,
                problem_type=problem_type,
                rate_limit=rate_limit,
                period=period,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise XApiError(response.status_code, "Bad response", "body is not JSON") from exc
        if not isinstance(body, dict):
            raise XApiError(response.status_code, "Bad response", "body is not a JSON object")
        self.usage.count_resources(operation, body)
        return body, rate_limit

    async def me(self) -> dict[str, Any]:
        return await self._call("GET", "/2/users/me", user_auth=True, operation=USER_READ)

    async def mentions(
        self,
        user_id: str,
        *,
        since_id: str | None = None,
        pagination_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        params = _read_params(max_results)
        if since_id:
            params["since_id"] = since_id
        if pagination_token:
            params["pagination_token"] = pagination_token
        return await self._call(
            "GET", f"/2/users/{user_id}/mentions", user_auth=False, operation=POST_READ, params=params
        )

    async def search_recent(
        self,
        query: str,
        *,
        since_id: str | None = None,
        until_id: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        params = {"query": query, **_read_params(100)}
        if since_id:
            params["since_id"] = since_id
        if until_id:
            params["until_id"] = until_id
        if next_token:
            params["next_token"] = next_token
        return await self._call(
            "GET", "/2/tweets/search/recent", user_auth=False, operation=POST_READ, params=params
        )

    async def create_tweet(self, text: str, *, in_reply_to: str | None = None) -> Created:
        """Post as the brand. Only ``channels.x.delivery`` calls this, for public messages."""
        body: dict[str, Any] = {"text": text}
        if in_reply_to:
            body["reply"] = {"in_reply_to_tweet_id": in_reply_to}
        operation = POST_CREATE_WITH_LINK if has_link(text) else POST_CREATE
        answer, rate_limit = await self._call_with_limit(
            "POST", "/2/tweets", user_auth=True, operation=operation, json=body
        )
        data = answer.get("data")
        tweet_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(tweet_id, str):
            raise XApiError(201, "Bad response", "no tweet id in the answer")
        return Created(tweet_id, rate_limit)

    async def send_dm(self, participant_id: str, text: str) -> Created:
        """Send a 1:1 DM as the brand. Only ``channels.x.delivery`` calls this, for private messages."""
        answer, rate_limit = await self._call_with_limit(
            "POST",
            f"/2/dm_conversations/with/{participant_id}/messages",
            user_auth=True,
            operation=DM_CREATE,
            json={"text": text},
        )
        data = answer.get("data")
        event_id = data.get("dm_event_id") if isinstance(data, dict) else None
        conversation_id = data.get("dm_conversation_id") if isinstance(data, dict) else None
        if not isinstance(event_id, str):
            raise XApiError(201, "Bad response", "no dm_event_id in the answer")
        return Created(event_id, rate_limit, str(conversation_id) if conversation_id else None)

    async def dm_events(
        self, *, participant_id: str | None = None, pagination_token: str | None = None
    ) -> dict[str, Any]:
        """DM events newest first (all the brand's, or those with one participant), as the brand."""
        params = {
            "max_results": "100",
            "event_types": "MessageCreate",
            "dm_event.fields": DM_EVENT_FIELDS,
            "expansions": "sender_id",
            "user.fields": USER_FIELDS,
        }
        if pagination_token:
            params["pagination_token"] = pagination_token
        path = f"/2/dm_conversations/with/{participant_id}/dm_events" if participant_id else "/2/dm_events"
        return await self._call("GET", path, user_auth=True, operation=DM_READ, params=params)

    # Filtered stream (bearer only; used by channels.x.stream) ------------------------------------

    async def stream_rules(self) -> list[dict[str, Any]]:
        """Every rule of the app's filtered stream (``id``, ``value``, ``tag``), all pages."""
        rules: list[dict[str, Any]] = []
        params = {"max_results": "1000"}
        for _ in range(10):
            body = await self._call(
                "GET", "/2/tweets/search/stream/rules", user_auth=False, operation=STREAM_RULES, params=params
            )
            data = body.get("data")
            if isinstance(data, list):
                rules.extend(rule for rule in data if isinstance(rule, dict))
            meta = body.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                break
            params = {"max_results": "1000", "pagination_token": token}
        return rules

    async def add_stream_rules(self, rules: list[dict[str, str]]) -> dict[str, Any]:
        """Add ``{"value", "tag"}`` rules; per-rule refusals come back in ``errors`` with a 2xx."""
        return await self._call(
            "POST",
            "/2/tweets/search/stream/rules",
            user_auth=False,
            operation=STREAM_RULES,
            json={"add": rules},
        )

    async def delete_stream_rules(self, ids: list[str]) -> dict[str, Any]:
        return await self._call(
            "POST",
            "/2/tweets/search/stream/rules",
            user_auth=False,
            operation=STREAM_RULES,
            json={"delete": {"ids": ids}},
        )

    @asynccontextmanager
    async def filtered_stream(
        self, *, backfill_minutes: int = 0, read_timeout: float = 21.0
    ) -> AsyncIterator[httpx.Response]:
        """Connect to the filtered stream; yields the 200 response, whose body is NDJSON lines.

        Any other answer raises XApiError. ``read_timeout`` bounds the silence between two chunks.
        """
        params = {key: value for key, value in _read_params(1).items() if key != "max_results"}
        if backfill_minutes:
            params["backfill_minutes"] = str(backfill_minutes)
        self.usage.count_request(STREAM_CONNECT)
        async with self._http.stream(
            "GET",
            "/2/tweets/search/stream",
            params=params,
            headers=self._bearer,
            timeout=httpx.Timeout(10.0, read=read_timeout),
        ) as response:
            rate_limit = parse_rate_limit(response.headers)
            if response.status_code != 200:
                await response.aread()
                title, detail, problem_type, period = _problem(response)
                raise XApiError(
                    response.status_code,
                    title,
                    detail,
                    problem_type=problem_type,
                    rate_limit=rate_limit,
                    period=period,
                )
            yield response

    # Account Activity webhooks (used by channels.x.webhook_admin) --------------------------------

    async def create_webhook(self, url: str) -> dict[str, Any]:
        """Register ``url`` (X runs a CRC against it first); returns ``{id, url, valid, created_at}``."""
        body = await self._call("POST", "/2/webhooks", user_auth=False, operation=WEBHOOKS, json={"url": url})
        return _data_object(body)

    async def list_webhooks(self) -> list[dict[str, Any]]:
        body = await self._call("GET", "/2/webhooks", user_auth=False, operation=WEBHOOKS)
        data = body.get("data")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    async def delete_webhook(self, webhook_id: str) -> dict[str, Any]:
        body = await self._call("DELETE", f"/2/webhooks/{webhook_id}", user_auth=False, operation=WEBHOOKS)
        return _data_object(body)

    async def subscribe_all(self, webhook_id: str) -> dict[str, Any]:
        """Subscribe the brand (user auth) to the webhook's account activity."""
        body = await self._call(
            "POST",
            f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all",
            user_auth=True,
            operation=WEBHOOKS,
        )
        return _data_object(body)

    async def subscriptions(self, webhook_id: str) -> dict[str, Any]:
        """The webhook's subscriptions (bearer): ``{webhook_id, subscriptions: [{user_id}], …}``."""
        body = await self._call(
            "GET",
            f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all/list",
            user_auth=False,
            operation=WEBHOOKS,
        )
        return _data_object(body)

    async def unsubscribe(self, webhook_id: str, user_id: str) -> dict[str, Any]:
        body = await self._call(
            "DELETE",
            f"/2/account_activity/webhooks/{webhook_id}/subscriptions/{user_id}/all",
            user_auth=False,
            operation=WEBHOOKS,
        )
        return _data_object(body)


#: Usage-meter operation of webhook and subscription administration.
WEBHOOKS = "webhooks.admin"


def _data_object(body: dict[str, Any]) -> dict[str, Any]:
    """``data`` when it is an object; the body itself when X left the wrapper out (contract §7)."""
    data = body.get("data")
    return data if isinstance(data, dict) else body
