"""An async client for the X API v2 subset Haven uses (contract: docs in shared x-api-contract)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from haven.channels.x.oauth1 import OAuth1Signer

#: Fields and expansions requested on every read, so that each tweet carries what threading needs.
TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities,lang"
EXPANSIONS = "author_id,referenced_tweets.id"
USER_FIELDS = "name,username"


class XCredentials(BaseModel):
    """The app's consumer pair and bearer token, and the brand's OAuth 1.0a user token."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    bearer_token: str


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    remaining: int
    reset_at: datetime


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
    ) -> None:
        super().__init__(f"X API {status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.problem_type = problem_type
        self.rate_limit = rate_limit

    @property
    def is_usage_cap(self) -> bool:
        return self.problem_type.endswith("/usage-capped")

    @property
    def retry_at(self) -> datetime:
        """When trying again makes sense: the window reset + 1 s on 429, else a short pause."""
        now = datetime.now(UTC)
        if self.status == 429:
            if self.rate_limit is not None:
                return max(self.rate_limit.reset_at + timedelta(seconds=1), now)
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


def parse_rate_limit(headers: httpx.Headers) -> RateLimit | None:
    try:
        return RateLimit(
            limit=int(headers["x-rate-limit-limit"]),
            remaining=int(headers["x-rate-limit-remaining"]),
            reset_at=datetime.fromtimestamp(int(headers["x-rate-limit-reset"]), UTC),
        )
    except (KeyError, ValueError, OverflowError, OSError):
        return None


def _problem(response: httpx.Response) -> tuple[str, str, str]:
    """Title, detail and type from either error shape X uses (v2 Problem or v1.1 ``errors``)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase, response.text[:200], ""
    if not isinstance(body, dict):
        return response.reason_phrase, str(body)[:200], ""
    title = str(body.get("title") or response.reason_phrase)
    detail = str(body.get("detail") or "")
    errors = body.get("errors")
    if not detail and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        detail = str(errors[0].get("message") or errors[0].get("detail") or "")
    return title, detail[:500], str(body.get("type") or "")


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

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        user_auth: bool,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = await self._http.request(
            method,
            path,
            params=params,
            json=json,
            auth=self._user_auth if user_auth else httpx.USE_CLIENT_DEFAULT,
            headers=None if user_auth else self._bearer,
        )
        self.last_rate_limit = parse_rate_limit(response.headers) or self.last_rate_limit
        if response.status_code >= 400:
            title, detail, problem_type = _problem(response)
            raise XApiError(
                response.status_code,
                title,
                detail,
                problem_type=problem_type,
                rate_limit=self.last_rate_limit,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise XApiError(response.status_code, "Bad response", "body is not JSON") from exc
        if not isinstance(body, dict):
            raise XApiError(response.status_code, "Bad response", "body is not a JSON object")
        return body

    async def me(self) -> dict[str, Any]:
        return await self._call("GET", "/2/users/me", user_auth=True)

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
        return await self._call("GET", f"/2/users/{user_id}/mentions", user_auth=False, params=params)

    async def search_recent(
        self, query: str, *, since_id: str | None = None, next_token: str | None = None
    ) -> dict[str, Any]:
        params = {"query": query, **_read_params(100)}
        if since_id:
            params["since_id"] = since_id
        if next_token:
            params["next_token"] = next_token
        return await self._call("GET", "/2/tweets/search/recent", user_auth=False, params=params)

    async def create_tweet(self, text: str, *, in_reply_to: str | None = None) -> str:
        """Post as the brand; returns the new tweet's id."""
        body: dict[str, Any] = {"text": text}
        if in_reply_to:
            body["reply"] = {"in_reply_to_tweet_id": in_reply_to}
        answer = await self._call("POST", "/2/tweets", user_auth=True, json=body)
        data = answer.get("data")
        tweet_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(tweet_id, str):
            raise XApiError(201, "Bad response", "no tweet id in the answer")
        return tweet_id
