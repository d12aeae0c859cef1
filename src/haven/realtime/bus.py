"""The event bus: in-process by default, Redis pub/sub when Haven runs as several processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from redis.asyncio import Redis

from haven.realtime.events import RealtimeEvent

log = logging.getLogger(__name__)

#: A subscriber that falls this far behind is dropped rather than slowing everyone down.
_QUEUE_LIMIT = 1000
_CHANNEL = "haven:events"


class Subscription:
    """One subscriber's queue of events. Iterate it, or ``get()`` with a timeout; ``close()`` ends it."""

    def __init__(self, fanout: _Fanout, topic: str | None = None) -> None:
        self._fanout = fanout
        self.topic = topic
        self.queue: asyncio.Queue[RealtimeEvent | None] = asyncio.Queue(_QUEUE_LIMIT)
        self.closed = False

    async def get(self) -> RealtimeEvent | None:
        """The next event, or None once the subscription is closed. Safe to cancel."""
        if self.closed:
            return None
        event = await self.queue.get()
        if event is None:
            self.closed = True
        return event

    def __aiter__(self) -> AsyncIterator[RealtimeEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RealtimeEvent]:
        while (event := await self.get()) is not None:
            yield event

    def close(self) -> None:
        self.closed = True
        self._fanout.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventBus(Protocol):
    async def publish(self, event: RealtimeEvent) -> None: ...

    def subscribe(self, topic: str | None = None) -> Subscription: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class _Fanout:
    """Local fan-out to subscriber queues; shared by both bus kinds.

    An event with a topic (one chat's events) reaches only that topic's subscribers, so a thousand
    open chats do not wake each other; an event without one reaches the subscribers without one.
    """

    def __init__(self) -> None:
        self._subscriptions: dict[str | None, set[Subscription]] = {}

    def deliver(self, event: RealtimeEvent) -> None:
        for subscription in list(self._subscriptions.get(event.topic, ())):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping a slow realtime subscriber")
                self._end(subscription)

    def subscribe(self, topic: str | None = None) -> Subscription:
        subscription = Subscription(self, topic)
        self._subscriptions.setdefault(topic, set()).add(subscription)
        return subscription

    def discard(self, subscription: Subscription) -> None:
        members = self._subscriptions.get(subscription.topic)
        if members is not None:
            members.discard(subscription)
            if not members:
                del self._subscriptions[subscription.topic]

    def _end(self, subscription: Subscription) -> None:
        self.discard(subscription)
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(None)

    def close(self) -> None:
        for members in list(self._subscriptions.values()):
            for subscription in list(members):
                self._end(subscription)


class InProcessBus:
    """Events reach subscribers in this process only: the embedded default."""

    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def start(self) -> None:
        return None

    async def publish(self, event: RealtimeEvent) -> None:
        self._fanout.deliver(event)

    def subscribe(self, topic: str | None = None) -> Subscription:
        return self._fanout.subscribe(topic)

    async def close(self) -> None:
        self._fanout.close()


class RedisBus:
    """Events travel through a Redis pub/sub channel, so web and worker processes can be apart."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url)
        self._fanout = _Fanout()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="redis-bus-listener")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def publish(self, event: RealtimeEvent) -> None:
        await self._redis.publish(_CHANNEL, event.model_dump_json())

    def subscribe(self, topic: str | None = None) -> Subscription:
        return self._fanout.subscribe(topic)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(_CHANNEL)
                    self._ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._fanout.deliver(RealtimeEvent.model_validate_json(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis bus listener failed; reconnecting")
                await asyncio.sleep(1)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self._fanout.close()
        await self._redis.aclose()


def create_bus(redis_url: str | None) -> EventBus:
    return RedisBus(redis_url) if redis_url else InProcessBus()
