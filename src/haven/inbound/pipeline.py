"""Processing stored raw events: parse → thread → triage → contact → conversation → message.

Events are processed in batches, one transaction each. If a batch fails, its events are retried one
by one so that a single poisonous event is marked with its error and the others still go through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.x.events import parse_stored_event
from haven.channels.x.parse import MalformedPayload
from haven.channels.x.settings import account_settings
from haven.inbound.threads import resolve_thread
from haven.kit.clock import utcnow
from haven.messages.service import NotRecorded, record_inbound
from haven.models import ChannelAccount, InboundEvent, Message, Visibility
from haven.runtime import Runtime
from haven.triage.intent import IntentModel
from haven.triage.pii.detect import find_private_data
from haven.triage.pii.mask import mask_private_data
from haven.triage.policy import TriagePolicy, load_policy
from haven.triage.service import exposed_in_public, record_triage, redact_payload

log = logging.getLogger(__name__)

BATCH_SIZE = 200
#: After this many failed attempts an event is parked with its error for an operator.
MAX_ATTEMPTS = 5


@dataclass(slots=True)
class PipelineResult:
    processed: int = 0
    failed: int = 0


@dataclass(slots=True)
class _Batch:
    """What one transaction's events share, loaded once: the session's identity map holds objects
    weakly, so without these strong references every event would load its account again."""

    runtime: Runtime
    model: IntentModel
    accounts: dict[int, ChannelAccount] = field(default_factory=dict)
    policies: dict[int, TriagePolicy] = field(default_factory=dict)

    async def account(self, session: AsyncSession, account_id: int) -> ChannelAccount:
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = await session.get_one(ChannelAccount, account_id)
        return account

    async def policy(self, session: AsyncSession, brand_id: int) -> TriagePolicy:
        policy = self.policies.get(brand_id)
        if policy is None:
            policy = self.policies[brand_id] = await load_policy(session, brand_id)
        return policy


async def _process(session: AsyncSession, event: InboundEvent, batch: _Batch) -> None:
    account = await batch.account(session, event.channel_account_id)
    # ``attempts`` is counted with the outcome, at the end, so that both go out in one UPDATE: set
    # here first, autoflush would write it on its own before the first query. A failure rolls the
    # whole transaction back either way (``_process_alone`` counts failed attempts).
    try:
        post = parse_stored_event(event.payload, brand_user_id=account.external_user_id)
    except MalformedPayload as exc:
        event.attempts += 1
        event.outcome = f"malformed: {exc}"
        event.processed_at = utcnow()
        log.warning("inbound event %s is malformed: %s", event.id, exc)
        return
    region = batch.runtime.settings.phone_region
    if post.ignore_reason is not None:
        event.outcome = f"ignored: {post.ignore_reason}"
        if post.visibility is Visibility.PUBLIC and (found := find_private_data(post.text, region=region)):
            # A retweet of a post that exposes private data: nothing is stored but the raw event.
            event.payload = redact_payload(event.payload, post.text, found, region=region)
    else:
        post = await resolve_thread(session, account, post)
        understanding = batch.runtime.triager.understand(batch.model, post.text, x_lang=post.lang)
        exposed = exposed_in_public(understanding, post.visibility)
        if exposed:
            # Only the masked text is stored; the raw event loses the values too.
            event.payload = redact_payload(event.payload, post.text, exposed, region=region)
        stored = replace(post, text=mask_private_data(post.text, exposed)) if exposed else post
        may_open = post.trigger in account_settings(account).open_on
        recorded = await record_inbound(session, account, stored, may_open=may_open)
        if recorded is NotRecorded.OPENS_NOTHING:
            event.outcome = f"ignored: a {post.trigger.value} post does not open a conversation here"
        elif isinstance(recorded, Message):
            await record_triage(
                session,
                cipher=batch.runtime.cipher,
                policy=await batch.policy(session, account.brand_id),
                message=recorded,
                author=post.author,
                understanding=understanding,
                text=post.text,
                masked=bool(exposed),
            )
    event.attempts += 1
    event.processed_at = utcnow()


async def process_pending(runtime: Runtime, *, batch_size: int = BATCH_SIZE) -> PipelineResult:
    """Process every pending event; returns how many were handled and how many failed.

    An event that fails is tried again on a later call (the workers call this every second), not in
    this one, and is parked with its reason after ``MAX_ATTEMPTS``.
    """
    result = PipelineResult()
    failed_now: set[int] = set()
    database = runtime.database
    model = await runtime.triager.ready()
    while True:
        ids: list[int] = []
        try:
            async with database.unit_of_work() as session:
                events = (
                    await session.scalars(
                        select(InboundEvent)
                        .where(
                            InboundEvent.processed_at.is_(None),
                            InboundEvent.attempts < MAX_ATTEMPTS,
                            InboundEvent.id.not_in(failed_now),
                        )
                        .order_by(InboundEvent.id)
                        .limit(batch_size)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                ids = [event.id for event in events]
                batch = _Batch(runtime, model)
                for event in events:
                    await _process(session, event, batch)
        except Exception:
            if not ids:
                raise
            log.exception("an inbound batch failed; retrying its events one by one")
            for event_id in ids:
                if await _process_alone(runtime, model, event_id):
                    result.processed += 1
                else:
                    result.failed += 1
                    failed_now.add(event_id)
            continue
        if not ids:
            return result
        result.processed += len(ids)


async def _process_alone(runtime: Runtime, model: IntentModel, event_id: int) -> bool:
    try:
        async with runtime.database.unit_of_work() as session:
            event = await session.get(InboundEvent, event_id, with_for_update=True)
            if event is not None and event.processed_at is None:
                await _process(session, event, _Batch(runtime, model))
        return True
    except Exception as exc:
        log.exception("inbound event %s failed", event_id)
        async with runtime.database.unit_of_work() as session:
            event = await session.get(InboundEvent, event_id)
            if event is not None:
                event.attempts += 1
                event.outcome = f"failed: {type(exc).__name__}"
        return False
