"""Moving metered usage into the database, and reporting it with an estimated spend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.kit.clock import utcnow
from haven.kit.sql import add_to_counters
from haven.models import ApiUsage, ChannelAccount


async def flush(
    session: AsyncSession, channel_account_id: int, counts: Mapping[str, tuple[int, int]]
) -> None:
    """Add ``operation → (requests, resources)`` to today's counters of the account."""
    today = utcnow().date()
    for operation, (requests, resources) in sorted(counts.items()):
        await add_to_counters(
            session,
            ApiUsage,
            {"channel_account_id": channel_account_id, "day": today, "operation": operation},
            {"requests": requests, "resources": resources},
            ("channel_account_id", "day", "operation"),
        )


@dataclass(frozen=True, slots=True)
class UsageLine:
    account_id: int
    handle: str
    operation: str
    requests: int
    resources: int
    unit_price: float

    @property
    def spend(self) -> float:
        return self.resources * self.unit_price


@dataclass(frozen=True, slots=True)
class UsageReport:
    since: date
    lines: list[UsageLine]

    @property
    def total_spend(self) -> float:
        return sum(line.spend for line in self.lines)

    def account_spend(self, account_id: int) -> float:
        return sum(line.spend for line in self.lines if line.account_id == account_id)


async def report(
    session: AsyncSession, *, brand_id: int, since: date, prices: Mapping[str, float]
) -> UsageReport:
    """Reads and writes per account and operation since ``since`` (a UTC day), with their cost."""
    rows = await session.execute(
        select(
            ChannelAccount.id,
            ChannelAccount.handle,
            ApiUsage.operation,
            func.sum(ApiUsage.requests),
            func.sum(ApiUsage.resources),
        )
        .join(ChannelAccount, ChannelAccount.id == ApiUsage.channel_account_id)
        .where(ChannelAccount.brand_id == brand_id, ApiUsage.day >= since)
        .group_by(ChannelAccount.id, ChannelAccount.handle, ApiUsage.operation)
        .order_by(ChannelAccount.handle, ApiUsage.operation)
    )
    return UsageReport(
        since=since,
        lines=[
            UsageLine(
                account_id, handle, operation, int(requests), int(resources), prices.get(operation, 0.0)
            )
            for account_id, handle, operation, requests, resources in rows
        ],
    )
