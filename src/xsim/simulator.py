"""One simulator instance: its configuration and every piece of mutable state."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request

from xsim.auth import NonceCache
from xsim.config import SimConfig
from xsim.faults import Faults
from xsim.ids import SnowflakeGenerator, snowflake_time
from xsim.ratelimit import RateLimiter
from xsim.rules import RuleBook
from xsim.store import Store, User
from xsim.stream import StreamHub
from xsim.traffic import TrafficGenerator
from xsim.webhooks import WebhookService


class Simulator:
    """Lives on ``app.state.sim``; routes reach it through :func:`get_sim`.

    ``config`` may be replaced at runtime (``POST /_sim/config``); ``reset`` goes back
    to the configuration the instance started with.
    """

    def __init__(self, config: SimConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.initial_config = config
        self.config = config
        #: Seconds since the epoch; replaceable in tests to move through rate-limit windows.
        self.clock = clock
        brand = User(
            id=config.brand_user_id,
            username=config.brand_username,
            name=config.brand_name,
            created_at=snowflake_time(config.brand_user_id),
            is_brand=True,
        )
        self.store = Store(brand=brand, ids=SnowflakeGenerator())
        self.rate_limiter = RateLimiter()
        self.nonces = NonceCache()
        self.faults = Faults()
        self.traffic = TrafficGenerator()
        #: Posts made through the API, counted against ``config.post_usage_cap``.
        self.posts_made = 0
        #: Filtered stream: the app's rules and its one connection slot (fed by the store).
        self.rules = RuleBook()
        self.stream = StreamHub(self.store, self.rules, self.faults)
        self.webhooks = WebhookService(
            store=self.store, faults=self.faults, config=lambda: self.config, clock=lambda: self.clock()
        )

    async def reset(self) -> None:
        """Back to the starting point: only the brand, no tweets, fresh quotas and config."""
        await self.webhooks.reset()
        await self.stream.reset()
        self.rules.reset()
        await self.store.reset()
        self.rate_limiter.reset()
        self.faults.reset()
        await self.traffic.stop()
        self.posts_made = 0
        self.config = self.initial_config


def get_sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim
