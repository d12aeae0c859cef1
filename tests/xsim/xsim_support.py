"""Helpers shared by the xsim tests (a uniquely named module, unlike ``conftest``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from oauthlib.oauth1 import Client as OAuth1Client

from xsim.config import SimConfig

CONFIG = SimConfig()
BRAND_ID = CONFIG.brand_user_id
APP_BEARER = {"Authorization": f"Bearer {CONFIG.app_bearer_token}"}


class OAuth1(httpx.Auth):
    """Signs each request as the brand, over the URL httpx is about to call.

    ``sign_url`` signs for another URL instead (to test host checks); other keyword
    arguments (``nonce``, ``timestamp``, ``client_secret`` …) go to oauthlib.
    """

    def __init__(
        self, config: SimConfig = CONFIG, *, sign_url: str | None = None, **client_options: Any
    ) -> None:
        self.config = config
        self.sign_url = sign_url
        self.client_options = {
            "client_secret": config.consumer_secret,
            "resource_owner_key": config.brand_access_token,
            "resource_owner_secret": config.brand_access_token_secret,
        } | client_options

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        client = OAuth1Client(self.config.consumer_key, **self.client_options)
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        _, headers, _ = client.sign(
            self.sign_url or str(request.url),
            http_method=request.method,
            body=request.content.decode() if form else None,
            headers={"Content-Type": request.headers["content-type"]} if form else None,
        )
        request.headers["Authorization"] = headers["Authorization"]
        yield request


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class SimUser:
    id: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


class Sim:
    """A thin driver for one xsim app: admin calls and posting shortcuts."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def user(self, username: str, name: str | None = None, **settings: Any) -> SimUser:
        """A new simulated user; ``settings`` go in the body (``followers_count``, ``verified`` …)."""
        body = {"username": username} | ({"name": name} if name else {}) | settings
        response = await self.client.post("/_sim/users", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return SimUser(data["id"], data["username"], data["access_token"])

    async def post(self, auth: dict[str, str] | httpx.Auth, text: str, **extra: Any) -> str:
        """Post a tweet (``reply_to=`` an id to reply) and return its id."""
        body: dict[str, Any] = {"text": text}
        if "reply_to" in extra:
            body["reply"] = {"in_reply_to_tweet_id": extra.pop("reply_to")}
        body |= extra
        if isinstance(auth, httpx.Auth):
            response = await self.client.post("/2/tweets", json=body, auth=auth)
        else:
            response = await self.client.post("/2/tweets", json=body, headers=auth)
        assert response.status_code == 201, response.text
        tweet_id: str = response.json()["data"]["id"]
        return tweet_id

    async def configure(self, **changes: Any) -> None:
        response = await self.client.post("/_sim/config", json=changes)
        assert response.status_code == 200, response.text
