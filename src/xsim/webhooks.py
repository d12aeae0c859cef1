"""Webhooks and Account Activity deliveries (contract §7): registry, CRC, signatures, delivery.

One :class:`WebhookService` lives on the simulator. It listens to the store: the listener only
renders the v1.1 payloads and queues them (it runs under the store lock, so it never touches
the network). A background task, started on the first delivery and ended when the queue is
empty, POSTs each payload, signed over its exact bytes, retrying failures with a doubling
backoff and then dropping them. Fault injection (``sim.faults``) duplicates deliveries or
holds one back until the next one has gone out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from xsim.config import SimConfig
from xsim.errors import JSON
from xsim.faults import Faults
from xsim.ids import snowflake_time
from xsim.render import iso_time
from xsim.store import (
    DirectMessageCreated,
    Store,
    StoreEvent,
    Tweet,
    TweetCreated,
    TweetDeleted,
)
from xsim.v1_render import direct_message_payload, tweet_create_payload, tweet_delete_payload

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 200
#: A CRC answer larger than this is refused without reading further.
MAX_CRC_RESPONSE_BYTES = 64 * 1024
#: How long a delivery held back by a ``reorder`` fault waits for a later one to overtake it.
REORDER_HOLD_SECONDS = 0.25
#: Outcomes kept for ``GET /_sim/webhooks``.
RECENT_DELIVERIES = 200
SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def _hmac_sha256(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response_token(consumer_secret: str, crc_token: str) -> str:
    """``sha256=`` + base64(HMAC-SHA256(consumer_secret, crc_token)): the CRC answer X expects."""
    return _hmac_sha256(consumer_secret, crc_token.encode())


def webhook_signature(consumer_secret: str, body: bytes) -> str:
    """The ``x-twitter-webhooks-signature`` of a delivery: the same HMAC over the exact body bytes."""
    return _hmac_sha256(consumer_secret, body)


class WebhookError(Exception):
    """A refusal X names (``CrcValidationFailed`` …), answered as a 400 ``<Reason>: <Details>``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def validate_url(url: str, *, allow_insecure: bool) -> None:
    """Raise ``UrlValidationFailed`` unless ``url`` is a usable callback URL.

    X requires ``https`` without a port; ``allow_insecure`` lets ``http`` and ports through.
    """

    def refuse(detail: str) -> WebhookError:
        return WebhookError("UrlValidationFailed", detail)

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise refuse("The URL contains whitespace or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("The URL is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("The URL must be an absolute https URL.")
    if parts.username is not None or parts.password is not None:
        raise refuse("The URL must not contain credentials.")
    if not allow_insecure:
        if parts.scheme != "https":
            raise refuse("The URL must use https.")
        if port is not None:
            raise refuse("The URL must not specify a port.")


async def crc_check(url: str, consumer_secret: str, timeout_seconds: float) -> str | None:
    """Send ``GET <url>?crc_token=…``; None if the answer is right, else why it is not."""
    token = secrets.token_urlsafe(24)
    expected = crc_response_token(consumer_secret, token)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_seconds):
            async with (
                httpx.AsyncClient(trust_env=False, follow_redirects=False) as client,
                client.stream("GET", url, params={"crc_token": token}) as response,
            ):
                if response.status_code != 200:
                    return f"URL returned HTTP status {response.status_code} during CRC."
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_CRC_RESPONSE_BYTES:
                        return "URL returned a CRC response that is too large."
    except TimeoutError:
        return f"URL did not answer the CRC within {timeout_seconds:g} seconds."
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
        return f"URL could not be reached during CRC ({type(error).__name__})."
    try:
        answer = json.loads(body)
    except ValueError:
        return "URL returned bad response during CRC with error: the response is not JSON."
    given = answer.get("response_token") if isinstance(answer, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        return "URL returned bad response during CRC with error: Invalid `response_token`."
    return None


@dataclass(slots=True)
class Webhook:
    id: str
    url: str
    created_at: datetime
    valid: bool = True
    #: Subscribed user ids, in subscription order.
    subscriptions: dict[str, None] = field(default_factory=dict)
    last_crc_error: str | None = None
    delivered: int = 0
    failed: int = 0

    def to_json(self) -> JSON:
        return {
            "created_at": iso_time(self.created_at),
            "id": self.id,
            "url": self.url,
            "valid": self.valid,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_id: str
    url: str
    for_user_id: str
    #: The payload's event array: ``tweet_create_events``, ``tweet_delete_events`` …
    kind: str
    event_id: str
    body: bytes
    signature: str


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    webhook_id: str
    for_user_id: str
    kind: str
    event_id: str
    #: ``delivered``, ``failed`` (retries used up) or ``discarded`` (the webhook went away).
    outcome: str
    attempts: int
    status_code: int | None
    error: str | None
    duplicate: bool

    def to_json(self) -> JSON:
        return {
            "webhook_id": self.webhook_id,
            "for_user_id": self.for_user_id,
            "kind": self.kind,
            "event_id": self.event_id,
            "outcome": self.outcome,
            "attempts": self.attempts,
            "status_code": self.status_code,
            "error": self.error,
            "duplicate": self.duplicate,
        }


def _tweet_concerns(store: Store, tweet: Tweet) -> set[str]:
    """Users a tweet concerns: its author (the echo), the users it mentions, replies to or quotes."""
    users = {tweet.author_id}
    users.update(m.user_id for m in tweet.entities.mentions if m.user_id)
    if tweet.in_reply_to_user_id:
        users.add(tweet.in_reply_to_user_id)
    quoted = store.tweet(tweet.quoted_tweet_id) if tweet.quoted_tweet_id else None
    if quoted is not None:
        users.add(quoted.author_id)
    return users


class WebhookService:
    """Registered webhooks, their subscriptions and the delivery queue of one simulator."""

    def __init__(
        self,
        *,
        store: Store,
        faults: Faults,
        config: Callable[[], SimConfig],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._faults = faults
        self._config = config
        self._clock = clock
        self._webhooks: dict[str, Webhook] = {}
        self._queue: deque[Delivery] = deque()
        self._held: Delivery | None = None
        self._worker: asyncio.Task[None] | None = None
        #: Set when a delivery is queued, to end a reorder hold early (the worker's loop owns it).
        self._arrival: asyncio.Event | None = None
        self._recent: deque[DeliveryRecord] = deque(maxlen=RECENT_DELIVERIES)
        self._counts = {"delivered": 0, "failed": 0, "discarded": 0, "attempts": 0}
        #: Deliveries queued, held back or in flight (a duplicate copy is not counted again).
        self._pending = 0
        store.subscribe(self._on_store_event)

    # -- registry ------------------------------------------------------------------------

    def webhooks(self) -> list[Webhook]:
        return list(self._webhooks.values())

    def webhook(self, webhook_id: str) -> Webhook | None:
        return self._webhooks.get(webhook_id)

    async def register(self, url: str) -> Webhook:
        """Validate ``url``, run the CRC and store the webhook, or raise ``WebhookError``."""
        config = self._config()
        validate_url(url, allow_insecure=config.webhook_allow_insecure)
        self._check_can_add(url, config)
        error = await crc_check(url, config.consumer_secret, config.webhook_timeout_seconds)
        if error is not None:
            raise WebhookError("CrcValidationFailed", error)
        self._check_can_add(url, self._config())  # another registration may have won meanwhile
        webhook_id = self._store.issue_id()
        webhook = Webhook(id=webhook_id, url=url, created_at=snowflake_time(webhook_id))
        self._webhooks[webhook_id] = webhook
        return webhook

    def _check_can_add(self, url: str, config: SimConfig) -> None:
        if any(webhook.url == url for webhook in self._webhooks.values()):
            raise WebhookError("DuplicateUrlFailed", "A webhook with this URL is already registered.")
        if len(self._webhooks) >= config.webhook_limit:
            raise WebhookError(
                "WebhookLimitExceeded", f"This app may register at most {config.webhook_limit} webhook(s)."
            )

    async def validate(self, webhook: Webhook) -> bool:
        """Re-run the CRC; the webhook is valid (and receives deliveries) only if it passes."""
        config = self._config()
        error = await crc_check(webhook.url, config.consumer_secret, config.webhook_timeout_seconds)
        webhook.valid = error is None
        webhook.last_crc_error = error
        return webhook.valid

    def delete(self, webhook_id: str) -> bool:
        return self._webhooks.pop(webhook_id, None) is not None

    def subscription_count(self) -> int:
        return sum(len(webhook.subscriptions) for webhook in self._webhooks.values())

    def subscribe(self, webhook: Webhook, user_id: str) -> None:
        if user_id in webhook.subscriptions:
            raise WebhookError("DuplicateSubscriptionFailed", "Subscription already exists.")
        limit = self._config().subscription_limit
        if self.subscription_count() >= limit:
            raise WebhookError(
                "SubscriptionLimitExceeded", f"This app may have at most {limit} subscription(s)."
            )
        webhook.subscriptions[user_id] = None

    def unsubscribe(self, webhook: Webhook, user_id: str) -> None:
        if user_id not in webhook.subscriptions:
            raise WebhookError("SubscriptionNotFound", "The user is not subscribed to this webhook.")
        del webhook.subscriptions[user_id]

    # -- state for /_sim -----------------------------------------------------------------

    @property
    def pending(self) -> int:
        return self._pending

    def snapshot(self) -> JSON:
        return {
            "webhooks": [
                webhook.to_json()
                | {
                    "subscriptions": list(webhook.subscriptions),
                    "last_crc_error": webhook.last_crc_error,
                    "delivered": webhook.delivered,
                    "failed": webhook.failed,
                }
                for webhook in self._webhooks.values()
            ],
            "deliveries": dict(self._counts) | {"pending": self._pending},
            "recent": [record.to_json() for record in self._recent],
        }

    async def reset(self) -> None:
        """Stop delivering and forget every webhook, subscription and counter."""
        await self.aclose()
        self._webhooks.clear()
        self._queue.clear()
        self._held = None
        self._recent.clear()
        self._counts = dict.fromkeys(self._counts, 0)
        self._pending = 0

    async def aclose(self) -> None:
        """Cancel the delivery task (queued deliveries stay queued until the next event)."""
        worker, self._worker = self._worker, None
        if worker is None or worker.done():
            return
        loop = worker.get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not running:
            loop.call_soon_threadsafe(worker.cancel)
            return
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    # -- planning (under the store lock: no I/O) ----------------------------------------

    async def _on_store_event(self, event: StoreEvent) -> None:
        targets = [
            (webhook, user_id)
            for webhook in self._webhooks.values()
            if webhook.valid
            for user_id in webhook.subscriptions
        ]
        if not targets:
            return
        store = self._store
        if isinstance(event, TweetCreated | TweetDeleted):
            tweet = event.tweet
            concerned = _tweet_concerns(store, tweet)
            event_id = tweet.id
            if isinstance(event, TweetCreated):
                kind = "tweet_create_events"

                def payload(user_id: str) -> JSON:
                    return tweet_create_payload(store, tweet, user_id)
            else:
                kind = "tweet_delete_events"
                deleted_at = self._clock()

                def payload(user_id: str) -> JSON:
                    return tweet_delete_payload(tweet, user_id, deleted_at)
        elif isinstance(event, DirectMessageCreated) and not event.conversation.is_group:
            # The Account Activity API carries 1:1 conversations only.
            dm = event.event
            concerned = set(event.conversation.participant_ids)
            recipient = next(
                (p for p in event.conversation.participant_ids if p != dm.sender_id), dm.sender_id
            )
            kind = "direct_message_events"
            event_id = dm.id

            def payload(user_id: str) -> JSON:
                return direct_message_payload(store, dm, recipient, user_id)
        else:
            return
        secret = self._config().consumer_secret
        for webhook, user_id in targets:
            if user_id not in concerned:
                continue
            body = json.dumps(payload(user_id), ensure_ascii=False, separators=(",", ":")).encode()
            delivery = Delivery(
                webhook_id=webhook.id,
                url=webhook.url,
                for_user_id=user_id,
                kind=kind,
                event_id=event_id,
                body=body,
                signature=webhook_signature(secret, body),
            )
            self._queue.append(delivery)
            self._pending += 1
        if self._arrival is not None:
            self._arrival.set()
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        if not self._queue or (self._worker is not None and not self._worker.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the next event starts the worker
            return
        self._worker = loop.create_task(self._run(), name="xsim-webhook-deliveries")

    # -- delivering (background task) ----------------------------------------------------

    async def _run(self) -> None:
        arrival = self._arrival = asyncio.Event()
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
            while True:
                try:
                    if self._queue:
                        await self._dispatch(client, self._queue.popleft())
                    elif self._held is not None:
                        arrival.clear()
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(REORDER_HOLD_SECONDS):
                                await arrival.wait()
                        if not self._queue and self._held is not None:
                            held, self._held = self._held, None
                            await self._deliver(client, held)
                    else:
                        return
                except asyncio.CancelledError:
                    raise
                except Exception:  # never let one bad delivery stop the others
                    log.exception("xsim: webhook delivery failed unexpectedly")

    async def _dispatch(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        """Deliver one queued payload, or hold it back (``reorder``) until after the next one."""
        faults = self._faults
        if self._held is None and faults.chance(faults.config.reorder_rate):
            faults.record("reorder")
            self._held = delivery
            return
        await self._deliver(client, delivery)
        if self._held is not None:
            held, self._held = self._held, None
            await self._deliver(client, held)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        """Send, maybe twice (``duplicate``); only then is the delivery no longer pending."""
        faults = self._faults
        try:
            await self._send(client, delivery)
            if faults.chance(faults.config.duplicate_rate):
                faults.record("duplicate")
                await self._send(client, delivery, duplicate=True)
        finally:
            self._pending -= 1

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery, *, duplicate: bool = False) -> None:
        config = self._config()
        attempts = 0
        status_code: int | None = None
        error: str | None = None
        outcome = "failed"
        for attempt in range(config.webhook_retries + 1):
            if attempt:
                await asyncio.sleep(config.webhook_retry_backoff_seconds * 2 ** (attempt - 1))
            webhook = self._webhooks.get(delivery.webhook_id)
            if webhook is None or not webhook.valid:
                outcome = "discarded"
                break
            attempts += 1
            self._counts["attempts"] += 1
            status_code, error = await self._post(client, delivery, config.webhook_timeout_seconds)
            if error is None:
                outcome = "delivered"
                webhook.delivered += 1
                break
        else:
            if webhook is not None:
                webhook.failed += 1
        self._counts[outcome] += 1
        self._recent.append(
            DeliveryRecord(
                webhook_id=delivery.webhook_id,
                for_user_id=delivery.for_user_id,
                kind=delivery.kind,
                event_id=delivery.event_id,
                outcome=outcome,
                attempts=attempts,
                status_code=status_code,
                error=error if outcome == "failed" else None,
                duplicate=duplicate,
            )
        )

    async def _post(
        self, client: httpx.AsyncClient, delivery: Delivery, timeout_seconds: float
    ) -> tuple[int | None, str | None]:
        """One attempt: the status code, and None if it was a 2xx or else what went wrong."""
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: delivery.signature,
            "user-agent": "xsim-webhooks",
        }
        try:
            async with (
                asyncio.timeout(timeout_seconds),
                client.stream("POST", delivery.url, content=delivery.body, headers=headers) as response,
            ):
                status = response.status_code
        except TimeoutError:
            return None, f"no answer within {timeout_seconds:g} seconds"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            return None, type(error).__name__
        return status, None if 200 <= status < 300 else f"HTTP {status}"
