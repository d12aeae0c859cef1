"""The event bus, in-process and (when the suite runs with Redis) across processes through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from haven.realtime.bus import EventBus, InProcessBus, RedisBus
from haven.realtime.events import RealtimeEvent
from tests.support import REDIS_URL

BUS_KINDS = ["in-process"] + (["redis"] if REDIS_URL else [])


@pytest.fixture(params=BUS_KINDS)
async def bus_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """A publisher and a subscriber bus. With Redis they are two separate connections, as two
    processes would have; in-process they are the same bus."""
    if request.param == "redis":
        assert REDIS_URL
        publisher, subscriber = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
        await publisher.start()
        await subscriber.start()
        yield publisher, subscriber
        await publisher.close()
        await subscriber.close()
    else:
        bus = InProcessBus()
        yield bus, bus
        await bus.close()


async def test_every_subscriber_gets_every_event_in_order(bus_pair: tuple[EventBus, EventBus]) -> None:
    publisher, subscriber = bus_pair
    with subscriber.subscribe() as first, subscriber.subscribe() as second:
        for n in range(5):
            await publisher.publish(RealtimeEvent(type="conversation.changed", brand_id=1, data={"n": n}))
        for subscription in (first, second):
            got = [await asyncio.wait_for(subscription.get(), timeout=5) for _ in range(5)]
            assert [e.data["n"] for e in got if e] == [0, 1, 2, 3, 4]


async def test_closing_the_bus_ends_subscriptions(bus_pair: tuple[EventBus, EventBus]) -> None:
    _, subscriber = bus_pair
    subscription = subscriber.subscribe()
    await subscriber.close()
    assert await asyncio.wait_for(subscription.get(), timeout=1) is None
    assert subscription.closed


async def test_a_subscriber_that_falls_far_behind_is_dropped_not_the_publisher() -> None:
    bus = InProcessBus()
    slow = bus.subscribe()
    for n in range(1100):
        await bus.publish(RealtimeEvent(type="t", brand_id=1, data={"n": n}))
    assert await slow.get() is None
    assert slow.closed
