"""A browser-like client for the console over ASGI: cookies, CSRF tokens and same-origin posts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from haven.app import create_app
from haven.runtime import Runtime

ORIGIN = "http://testserver"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def console_client(
    runtime: Runtime, *, origin: str = ORIGIN, **settings_overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    settings = runtime.settings.model_copy(update=settings_overrides)
    app = create_app(runtime=dataclasses.replace(runtime, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=origin) as client:
        yield client


def csrf_from(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, str], *, page: str = "/login"
) -> httpx.Response:
    """Post a form the way the browser would: token from the page, Origin of this site."""
    token = csrf_from((await client.get(page)).text)
    origin = str(client.base_url).rstrip("/")
    return await client.post(url, data={"csrf_token": token, **data}, headers={"Origin": origin})


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await post_form(client, "/login", {"email": email, "password": password})
