"""The console's channel page (paths, paused sending, estimated spend), the alert banner, and the
"Retry" action on a failed delivery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from haven.alerts.service import USAGE_CAP, raise_alert
from haven.conversations.repository import access_conversation
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.messages.service import send_reply
from haven.models import (
    AuditEntry,
    ChannelAccount,
    DeliveryStatus,
    Message,
    OutboxItem,
    OutboxStatus,
    Visibility,
)
from haven.runtime import Runtime
from haven.usage import service as usage
from tests.factories import PASSWORD, World, inbound_conversation
from tests.integration.web import console_client, login, post_form


async def test_the_channel_page_shows_paths_pauses_and_spend(runtime: Runtime, world: World) -> None:
    async with runtime.database.unit_of_work() as session:
        await usage.flush(session, world.account.id, {"post.read": (3, 250), "post.create.link": (2, 2)})
        await usage.flush(session, world.account.id, {"post.read": (1, 50)})
        await usage.flush(session, world.other_account.id, {"post.read": (9, 900)})
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == world.account.id)
            .values(
                send_paused_until=utcnow() + timedelta(minutes=9),
                send_pause_reason="X rate-limit window used up",
            )
        )
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        page = (await client.get("/channels")).text
    assert "@ExampleBankHelp" in page and "@OtherBank" not in page
    assert "Sending paused until" in page and "X rate-limit window used up" in page
    # 300 posts read at 0.005 and 2 link posts at 0.20: 1.50 + 0.40.
    assert f'id="spend-{world.account.id}">1.90<' in page
    assert "mentions on" in page and "stream off" in page


async def test_an_alert_shows_on_every_page_escaped_until_someone_resolves_it(
    runtime: Runtime, world: World
) -> None:
    async with runtime.database.unit_of_work() as session:
        alert = await raise_alert(
            session,
            brand_id=world.brand.id,
            channel_account_id=world.account.id,
            kind=USAGE_CAP,
            detail="<script>alert(1)</script> cap reached",
        )
        again = await raise_alert(
            session,
            brand_id=world.brand.id,
            channel_account_id=world.account.id,
            kind=USAGE_CAP,
            detail="cap still reached",
        )
        assert again.id == alert.id
        other = await raise_alert(
            session, brand_id=world.other_brand.id, channel_account_id=None, kind="other", detail="not yours"
        )
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        banner = (await client.get("/alerts/banner")).text
        assert "cap still reached" in banner and "not yours" not in banner
        foreign = await post_form(client, f"/alerts/{other.id}/resolve", {}, page="/inbox")
        assert foreign.status_code == 404
        resolved = await post_form(client, f"/alerts/{alert.id}/resolve", {}, page="/inbox")
        assert resolved.status_code == 303
        assert "cap still reached" not in (await client.get("/alerts/banner")).text
    async with runtime.database.reader() as session:
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "alert"))
        ).all()
    assert actions.count("alert.raise") == 2 and actions.count("alert.resolve") == 1


async def test_a_failed_delivery_can_be_retried_from_the_console_and_only_then(
    runtime: Runtime, world: World
) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    async with runtime.database.unit_of_work() as session:
        actor = Actor.of(world.agent)
        conversation = await access_conversation(session, actor, conversation_id)
        message = await send_reply(session, actor, conversation, text="Sorry!", visibility=Visibility.PUBLIC)
        message_id = message.id
    page = f"/conversations/{conversation_id}"
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        queued = await post_form(client, f"{page}/messages/{message_id}/retry", {}, page=page)
        assert queued.status_code == 409
        async with runtime.database.unit_of_work() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(
                    delivery_status=DeliveryStatus.FAILED,
                    failure_reason="X answered 403 Forbidden: duplicate",
                )
            )
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.message_id == message_id)
                .values(status=OutboxStatus.FAILED, attempts=8)
            )
        timeline = (await client.get(f"{page}/timeline")).text
        assert "Retry" in timeline and "duplicate" in timeline
        retried = await post_form(client, f"{page}/messages/{message_id}/retry", {}, page=page)
        assert retried.status_code == 303
        missing = await post_form(client, f"{page}/messages/999999/retry", {}, page=page)
        assert missing.status_code == 404
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
        item = (await session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id))).one()
    assert message.delivery_status is DeliveryStatus.QUEUED and message.failure_reason is None
    assert item.status is OutboxStatus.PENDING and item.attempts == 0
