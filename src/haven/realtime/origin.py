"""Whose page opened a WebSocket: browsers send the cookie to any page's socket, so check ``Origin``.

Without this check another site could open a socket with the agent's or customer's cookie
(cross-site WebSocket hijacking).
"""

from __future__ import annotations

from fastapi import WebSocket

from haven.runtime import Runtime


def origin_allowed(websocket: WebSocket, runtime: Runtime) -> bool:
    """The page that opened the socket is this site, by its host or the public base URL."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host", "")
    return origin in {f"http://{host}", f"https://{host}", runtime.settings.public_base_url}
