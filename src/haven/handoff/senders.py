"""How a one-time code reaches the customer: a pluggable ``CodeSender``.

Haven does not run an SMS or e-mail service; a bank already has one, behind a gateway.
``HttpCodeSender`` posts the message to that gateway; ``DemoPhone`` stands in for the
customer's handset in the demo so that a person can read the code on a page.

A ``SendFailed`` is meant to be logged and shown to staff, so its message never carries
the destination or the text: the text *is* the secret, and the destination is personal
data. Callers get the gateway's status code or the kind of network error, nothing else.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Protocol

import httpx

__all__ = ["CodeSender", "DemoPhone", "HttpCodeSender", "PhoneMessage", "SendFailed"]

SEND_TIMEOUT_SECONDS = 10.0


class SendFailed(Exception):
    """The code could not be handed over for delivery. The message is safe to log."""


class CodeSender(Protocol):
    async def send(self, destination: str, text: str) -> None:
        """Hand ``text`` over for delivery to ``destination``; raises ``SendFailed``."""
        ...


@dataclass(frozen=True, slots=True)
class PhoneMessage:
    destination: str
    text: str
    sent_at: datetime  # UTC aware


class DemoPhone:
    """The demo's "phone": keeps the last messages per destination in memory so a person can
    read the code on the demo phone page. Never used in production."""

    def __init__(self, keep: int = 20) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.keep = keep
        # (sequence, message): the sequence orders messages sent within the same clock tick.
        self._inboxes: dict[str, deque[tuple[int, PhoneMessage]]] = {}
        self._sequence = count()

    async def send(self, destination: str, text: str) -> None:
        message = PhoneMessage(destination, text, datetime.now(UTC))
        inbox = self._inboxes.pop(destination, None) or deque(maxlen=self.keep)
        inbox.append((next(self._sequence), message))
        self._inboxes[destination] = inbox  # re-inserted: most recently used destination last

    def messages(self, destination: str | None = None) -> list[PhoneMessage]:
        """Newest first; every destination's when ``destination`` is ``None``."""
        if destination is None:
            entries = [entry for inbox in self._inboxes.values() for entry in inbox]
        else:
            entries = list(self._inboxes.get(destination, ()))
        return [message for _, message in sorted(entries, key=lambda entry: entry[0], reverse=True)]

    def destinations(self) -> list[str]:
        """Destinations that have messages, the most recently messaged first."""
        return list(reversed(self._inboxes))


class HttpCodeSender:
    """Posts {"to": destination, "text": text} as JSON to the bank's SMS/e-mail gateway URL with
    a bearer token; 2xx = sent; anything else or a network error → SendFailed (with status code
    only). Timeout 10 s."""

    def __init__(self, url: str, token: str, *, http: httpx.AsyncClient | None = None) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the code gateway URL must be http(s)")
        if not token:
            raise ValueError("the code gateway needs a bearer token")
        self._url = url
        self._token = token
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)

    async def send(self, destination: str, text: str) -> None:
        try:
            response = await self._http.post(
                self._url,
                json={"to": destination, "text": text},
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=SEND_TIMEOUT_SECONDS,
                follow_redirects=False,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # Not chained: the cause's request carries the destination and the code.
            raise SendFailed(f"code gateway unreachable ({type(exc).__name__})") from None
        if not response.is_success:
            raise SendFailed(f"code gateway answered HTTP {response.status_code}")

    async def aclose(self) -> None:
        """Close the HTTP client if this sender created it (an injected one belongs to the caller)."""
        if self._owns_http:
            await self._http.aclose()
