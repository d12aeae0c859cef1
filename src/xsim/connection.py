"""Hanging up on a client without a response, which ASGI itself cannot express.

xsim needs it for the ``timeout`` request fault (hold the request, then close the socket without a
single byte) and for a dropped filtered stream (close the socket mid-body, no final chunk).

ASGI has no "close the connection" message, and an exception only gets a 500 out of uvicorn. But
under uvicorn the ``send`` callable handed to the application is a method of the per-request cycle
object, which holds the connection's asyncio transport. :class:`ConnectionControl` wraps the whole
application, outside even Starlette's error handling so that it sees that very ``send``, and records
the transport's ``close`` in the scope; :func:`drop_connection` calls it. Under a server where that
is not available (e.g. ``httpx.ASGITransport`` in tests) :func:`drop_connection` raises
:class:`ConnectionDropped` instead, which the in-process client re-raises.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

_CLOSE_KEY = "xsim.close_connection"


class ConnectionDropped(Exception):
    """Raised where the server gives xsim no way to close the connection itself."""


class ConnectionControl:
    """Outermost ASGI wrapper: remember how to close each HTTP request's connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            close = getattr(transport, "close", None)
            if callable(close) and callable(getattr(transport, "is_closing", None)):
                scope[_CLOSE_KEY] = close
        await self.app(scope, receive, send)


class XsimApp(FastAPI):
    """FastAPI with :class:`ConnectionControl` around everything else."""

    def build_middleware_stack(self) -> ASGIApp:
        return ConnectionControl(super().build_middleware_stack())


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the client is gone (any request body still arriving is read and dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def drop_connection(scope: Scope, receive: Receive) -> None:
    """Close the connection under this request without sending anything more.

    Waits (briefly) until the server has noticed, so that it does not try to answer on its own.
    """
    close: Callable[[], None] | None = scope.get(_CLOSE_KEY)
    if close is None:
        raise ConnectionDropped("xsim dropped the connection")
    close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wait_for_disconnect(receive), timeout=1.0)
