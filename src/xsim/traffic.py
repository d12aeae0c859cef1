"""Simulated customers tweeting at and DMing the brand at a steady pace.

For load and fault tests and the ingest benchmark. Traffic is made inside the simulator (no HTTP per
post, so the generator never competes with the system under test for sockets), never faulted, and
each post's acceptance time is kept so that a benchmark can measure delivery latency end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from xsim.config import USERNAME_PATTERN
from xsim.store import User, UsernameTaken

if TYPE_CHECKING:
    from xsim.simulator import Simulator


class TrafficPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Usernames are ``<prefix><n>``; the prefix keeps runs apart (12 characters at most).
    prefix: str = Field(default="cust", pattern=USERNAME_PATTERN, max_length=9)
    customers: int = Field(default=50, ge=1, le=10_000)
    tweets: int = Field(default=0, ge=0, le=100_000)
    dms: int = Field(default=0, ge=0, le=100_000)
    #: Posts (tweets and DMs together) per second; 0 means as fast as possible.
    rate_per_second: float = Field(default=0.0, ge=0.0, le=10_000.0)


@dataclass(slots=True)
class TrafficRun:
    plan: TrafficPlan
    started_at: float
    tweets_created: int = 0
    dms_created: int = 0
    finished_at: float | None = None
    error: str | None = None
    #: ``(id, kind, accepted at in seconds since the epoch)`` of every post made.
    accepted: list[tuple[str, str, float]] = field(default_factory=list)


class TrafficGenerator:
    """At most one run at a time, per simulator."""

    def __init__(self) -> None:
        self.run: TrafficRun | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, sim: Simulator, plan: TrafficPlan) -> TrafficRun:
        self.run = TrafficRun(plan=plan, started_at=time.time())
        # The task is held by self._task; it ends with the run or on stop().
        self._task = asyncio.create_task(self._generate(sim, self.run))
        return self.run

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _generate(self, sim: Simulator, run: TrafficRun) -> None:
        plan = run.plan
        try:
            customers = [await _customer(sim, f"{plan.prefix}{n}", n) for n in range(plan.customers)]
            brand = sim.store.brand
            total = plan.tweets + plan.dms
            # Interleave DMs evenly among the tweets.
            for n in range(total):
                if plan.rate_per_second:
                    delay = run.started_at + n / plan.rate_per_second - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                customer = customers[n % len(customers)]
                is_dm = plan.dms and (n * plan.dms) // total != ((n + 1) * plan.dms) // total
                if is_dm:
                    _, event = await sim.store.send_dm(
                        sender=customer,
                        text=f"Private question {run.dms_created} from {customer.username}",
                        recipient_id=brand.id,
                    )
                    run.dms_created += 1
                    run.accepted.append((event.id, "dm", time.time()))
                else:
                    tweet = await sim.store.create_tweet(
                        author=customer,
                        text=f"@{brand.username} question {run.tweets_created} from {customer.username}",
                    )
                    run.tweets_created += 1
                    run.accepted.append((tweet.id, "tweet", time.time()))
                if not plan.rate_per_second and n % 100 == 99:
                    await asyncio.sleep(0)  # let the API breathe between bursts
        except Exception as exc:  # the run's status shows it; the simulator keeps serving
            run.error = f"{type(exc).__name__}: {exc}"
        finally:
            run.finished_at = time.time()


def audience(n: int) -> tuple[int, bool]:
    """Followers and badge of the ``n``-th customer, deterministic so that runs are reproducible.

    Spread log-uniformly from 10 to ~90,000 (heavy-tailed, like real audiences); one customer in
    100 is a verified account with about a million.
    """
    if n % 100 == 99:
        return 1_000_000 + n, True
    return round(10 ** (1 + 4 * ((n * 61) % 100) / 100)), False


async def _customer(sim: Simulator, username: str, n: int) -> User:
    existing = sim.store.user_by_username(username)
    if existing is not None:
        return existing
    followers, verified = audience(n)
    try:
        return await sim.store.create_user(username, username, followers_count=followers, verified=verified)
    except UsernameTaken:
        user = sim.store.user_by_username(username)
        assert user is not None
        return user
