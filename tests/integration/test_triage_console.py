"""What agents see of triage in the console and the API: inbox badges, filters and sorting, the
triage panel, template suggestions, collision control, availability and live presence.

Conversations are made by the real inbound pipeline (intent model, PII detector, priority rules);
only the SLA clocks are moved in time, and hostile values are written where no model would make them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from markupsafe import escape
from sqlalchemy import select, update

from haven.app import create_app
from haven.kit.clock import utcnow
from haven.models import Agent, AuditEntry, Availability, Conversation, Message, MessageTriage, Role
from haven.realtime.console_ws import MAX_FRAME
from haven.runtime import Runtime
from haven.security.sessions import create_api_token
from haven.triage.deadlines import record_breaches
from haven.triage.intents import group_of, intent_label
from tests.factories import PASSWORD, World, another_agent, inbound_conversation, response_template
from tests.integration.web import ORIGIN, console_client, csrf_from, login, post_form
from tests.support import serving

HOSTILE = "<img src=x onerror=alert(1)>"
CARD = "4111 1111 1111 1111"
FRAUD = "@ExampleBankHelp there is a card payment I do not recognise on my statement, I never made it"
LEAK = f"@ExampleBankHelp my card {CARD} keeps getting declined at the shop, why?"
CALM = "@ExampleBankHelp how long does a transfer to another bank usually take?"
SPANISH = "@ExampleBankHelp hola, todavía no he recibido mi tarjeta nueva, cuándo llega por correo?"
WARNING = "The customer exposed a card number in public — the text is masked; advise them to delete the post."
_ROW = re.compile(r'class="inbox-row" data-conversation-id="(\d+)"')


async def _conversation(runtime: Runtime, conversation_id: int) -> Conversation:
    async with runtime.database.reader() as session:
        return await session.get_one(Conversation, conversation_id)


async def _update(runtime: Runtime, conversation_id: int, **values: Any) -> None:
    async with runtime.database.unit_of_work() as session:
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))


async def _latest_triage(runtime: Runtime, conversation_id: int) -> MessageTriage:
    async with runtime.database.reader() as session:
        triage = await session.scalar(
            select(MessageTriage)
            .join(Message, Message.id == MessageTriage.message_id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
    assert triage is not None
    return triage


def _rows(html: str) -> list[int]:
    return [int(found) for found in _ROW.findall(html)]


@dataclasses.dataclass
class Desk:
    """Four conversations triaged by the pipeline, two of them moved in time."""

    fraud: int
    leak: int
    calm: int
    spanish: int

    @property
    def all(self) -> set[int]:
        return {self.fraud, self.leak, self.calm, self.spanish}


@pytest.fixture
async def desk(runtime: Runtime, world: World) -> Desk:
    fraud = await inbound_conversation(runtime, world, text=FRAUD, username="fraud_victim")
    leak = await inbound_conversation(runtime, world, text=LEAK, username="card_leaker")
    calm = await inbound_conversation(runtime, world, text=CALM, username="calm_customer")
    spanish = await inbound_conversation(runtime, world, text=SPANISH, username="cliente")
    now = utcnow()
    # The leak's P1 clock (calendar time) has 5 of its 65 minutes left: at risk.
    await _update(
        runtime,
        leak,
        waiting_since=now - timedelta(minutes=60),
        first_response_due=now + timedelta(minutes=5),
    )
    # The calm one's first response is overdue: the SLA pass records the breach and escalates it.
    await _update(runtime, calm, first_response_due=now - timedelta(minutes=2))
    async with runtime.database.unit_of_work() as session:
        assert await record_breaches(session, utcnow()) == 1
    return Desk(fraud, leak, calm, spanish)


async def test_the_pipeline_triaged_the_desk(runtime: Runtime, desk: Desk) -> None:
    leak = await _conversation(runtime, desk.leak)
    assert leak.private_data_exposed and leak.priority == 1
    assert any("Private data in a public post" in reason for reason in leak.priority_reasons)
    assert (await _conversation(runtime, desk.spanish)).language == "es"
    assert (await _conversation(runtime, desk.calm)).escalated_at is not None
    async with runtime.database.reader() as session:
        texts = (await session.scalars(select(Message.text))).all()
    assert not any(CARD in text for text in texts), "the card number was stored unmasked"


async def test_inbox_shows_triage_sla_and_most_urgent_first(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        urgent = (await client.get("/inbox")).text
        newest = (await client.get("/inbox", params={"sort": "newest"})).text
    conversations = [await _conversation(runtime, cid) for cid in sorted(desk.all)]
    assert _rows(newest) == sorted(desk.all, reverse=True)
    order = _rows(urgent)
    priorities = [next(c.priority for c in conversations if c.id == cid) for cid in order]
    assert priorities == sorted(priorities), "the Open view lists the most urgent first"
    for conversation in conversations:
        row = urgent[urgent.index(f'data-conversation-id="{conversation.id}"') :].split("</li>")[0]
        assert f">P{conversation.priority}</span>" in row
        if conversation.intent:
            assert intent_label(conversation.intent) in row and " %" in row
    leak_row = urgent[urgent.index(f'data-conversation-id="{desk.leak}"') :].split("</li>")[0]
    assert "Private data" in leak_row and "English" in leak_row
    assert 'class="sla sla-at_risk"' in leak_row and "at risk · " in leak_row and "data-sla-live" in leak_row
    calm_row = urgent[urgent.index(f'data-conversation-id="{desk.calm}"') :].split("</li>")[0]
    assert 'class="sla sla-breached"' in calm_row and re.search(r"breached · \d+ min late", calm_row)
    assert "Escalated" in calm_row and "Social care" in calm_row
    spanish_row = urgent[urgent.index(f'data-conversation-id="{desk.spanish}"') :].split("</li>")[0]
    assert "Spanish" in spanish_row


async def _filtered(client: httpx.AsyncClient, api: httpx.AsyncClient, params: dict[str, str]) -> set[int]:
    """The same filter through the page, its live fragment and the API: all three must agree."""
    page = set(_rows((await client.get("/inbox", params=params)).text))
    fragment = set(_rows((await client.get("/inbox/rows", params=params)).text))
    listing = await api.get("/api/v1/conversations", params=params)
    assert listing.status_code == 200, listing.text
    through_api = {c["id"] for c in listing.json()["data"]}
    assert page == fragment == through_api, params
    return page


async def test_filters_combine_in_the_inbox_and_the_api(runtime: Runtime, world: World, desk: Desk) -> None:
    leak, fraud = await _conversation(runtime, desk.leak), await _conversation(runtime, desk.fraud)
    async with runtime.database.unit_of_work() as session:
        _, token = await create_api_token(session, await session.get_one(Agent, world.agent.id), "test")
    async with console_client(runtime) as client, console_client(runtime) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        await login(client, world.agent.email, PASSWORD)
        p1 = {c for c in desk.all if (await _conversation(runtime, c)).priority == 1}
        assert await _filtered(client, api, {"priority": "1"}) == p1
        assert await _filtered(client, api, {"private_data": "true"}) == {desk.leak}
        assert await _filtered(client, api, {"private_data": "false"}) == desk.all - {desk.leak}
        assert await _filtered(client, api, {"sla": "breached"}) == {desk.calm}
        assert await _filtered(client, api, {"sla": "at_risk"}) == {desk.leak}
        assert await _filtered(client, api, {"escalated": "true"}) == {desk.calm}
        assert await _filtered(client, api, {"language": "es"}) == {desk.spanish}
        assert await _filtered(client, api, {"priority": "1", "private_data": "true", "sla": "at_risk"}) == {
            desk.leak
        }
        assert await _filtered(client, api, {"priority": "4", "private_data": "true"}) == set()
        if leak.intent is not None:
            same_intent = {c for c in desk.all if (await _conversation(runtime, c)).intent == leak.intent}
            assert await _filtered(client, api, {"intent": leak.intent}) == same_intent
            group = group_of(leak.intent).value
            in_group = {
                c for c in desk.all if group_of((await _conversation(runtime, c)).intent).value == group
            }
            assert await _filtered(client, api, {"intent_group": group}) == in_group
        if fraud.intent is not None:
            assert desk.fraud in await _filtered(client, api, {"intent_group": group_of(fraud.intent).value})
        others = {c for c in desk.all if (await _conversation(runtime, c)).intent is None}
        assert await _filtered(client, api, {"intent_group": "other"}) == others
        # The filter form and the view links keep the filters.
        page = (await client.get("/inbox", params={"priority": "1", "private_data": "true"})).text
        assert 'href="/inbox?view=mine&amp;priority=1&amp;private_data=true"' in page
        assert 'data-rows-url="/inbox/rows?view=open&amp;priority=1&amp;private_data=true"' in page
        assert '<option value="1" selected>P1</option>' in page


async def test_bad_filter_values_are_explained_not_fatal(runtime: Runtime, world: World, desk: Desk) -> None:
    bad = {"priority": "9", "intent": HOSTILE, "language": "xx", "sla": "late", "escalated": "maybe"}
    async with runtime.database.unit_of_work() as session:
        _, token = await create_api_token(session, await session.get_one(Agent, world.agent.id), "test")
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        page = await client.get("/inbox", params=bad)
        assert page.status_code == 200
        assert set(_rows(page.text)) == desk.all, "bad filters are ignored"
        problems = page.text[page.text.index('id="filter-problems"') :].split("</ul>")[0]
        for name in ("priority", "intent", "language", "sla", "escalated"):
            assert f"The {name} filter was ignored" in problems
        assert "<img src=x" not in page.text
        assert (await client.get("/inbox", params={"view": "everything"})).status_code == 422
        assert (await client.get("/inbox", params={"sort": "random"})).status_code == 422
        client.headers["Authorization"] = f"Bearer {token}"
        for name, value in bad.items():
            response = await client.get("/api/v1/conversations", params={name: value})
            assert response.status_code == 422, (name, response.text)
            assert response.json()["detail"][0]["loc"] == ["query", name]


async def test_the_triage_panel_explains_the_verdict(runtime: Runtime, world: World, desk: Desk) -> None:
    leak = await _conversation(runtime, desk.leak)
    triage = await _latest_triage(runtime, desk.leak)
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        page = (await client.get(f"/conversations/{desk.leak}")).text
        fragment = (await client.get(f"/conversations/{desk.leak}/triage")).text
    for html in (page, fragment):
        assert WARNING in html
        assert 'class="sla sla-at_risk"' in html[html.index('id="triage-sla"') :]
        assert 'id="private-data-types">Found: a card number' in html
        for reason in leak.priority_reasons:
            assert f"<li>{escape(reason)}</li>" in html
        assert "English" in html and ("negative" in html or "neutral" in html or "positive" in html)
        if triage.intent is not None:
            assert f"{intent_label(triage.intent)} · {round(triage.intent_confidence * 100)} %" in html
        for word in triage.intent_words:
            assert f"<mark>{escape(word)}</mark>" in html
    assert CARD not in page
    timeline = page[page.index('id="timeline"') :]
    assert f'priority-badge p{triage.priority}">P{triage.priority}' in timeline
    assert "masked: a card number" in timeline and ">EN<" in timeline


async def test_out_of_scope_posts_show_the_best_guess(runtime: Runtime, world: World, desk: Desk) -> None:
    async with runtime.database.unit_of_work() as session:
        message_id = await session.scalar(select(Message.id).where(Message.conversation_id == desk.calm))
        await session.execute(
            update(MessageTriage)
            .where(MessageTriage.message_id == message_id)
            .values(intent=None, best_intent="transfer_timing", intent_confidence=0.234)
        )
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        page = (await client.get(f"/conversations/{desk.calm}")).text
    assert "Not a banking request (best guess: Transfer timing, 23 %)" in page


async def test_hostile_triage_values_are_escaped_everywhere(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    """Rule names (reasons) are typed by admins and words come from tweets: all of it is escaped."""
    await _update(runtime, desk.leak, intent=HOSTILE, priority_reasons=[f"P1 — {HOSTILE}"])
    async with runtime.database.unit_of_work() as session:
        message_id = await session.scalar(select(Message.id).where(Message.conversation_id == desk.leak))
        await session.execute(
            update(MessageTriage)
            .where(MessageTriage.message_id == message_id)
            .values(intent=HOSTILE, intent_words=[HOSTILE, "card"], best_intent=HOSTILE)
        )
    hostile_text = await inbound_conversation(runtime, world, text=f"@ExampleBankHelp {HOSTILE} my card")
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        pages = [
            await client.get(path)
            for path in (
                "/inbox",
                "/inbox/rows",
                f"/conversations/{desk.leak}",
                f"/conversations/{desk.leak}/triage",
                f"/conversations/{desk.leak}/timeline",
                f"/conversations/{hostile_text}",
            )
        ]
    for page in pages:
        assert page.status_code == 200
        assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[3].text


async def test_template_suggestions_put_the_private_data_reply_first(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    leak = await _conversation(runtime, desk.leak)
    assert leak.intent is not None
    brand = world.brand.id
    general = await response_template(runtime, brand, "Thanks", "Thanks {customer_name}, we are on it.")
    group = await response_template(
        runtime, brand, "Group", "About your payment", intent_groups=(group_of(leak.intent).value,)
    )
    intent = await response_template(runtime, brand, "Intent", f'Exact "{HOSTILE}"', intents=(leak.intent,))
    private = await response_template(
        runtime,
        brand,
        "Delete your post",
        "Hi {customer_handle}, please delete your post: it shows your card number. — {agent_name}",
        for_private_data=True,
    )
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        page = (await client.get(f"/conversations/{desk.leak}")).text
        other = (await client.get(f"/conversations/{desk.spanish}")).text
    picker = page[page.index('id="template-picker"') :]
    order = [int(found) for found in re.findall(r'data-template-id="(\d+)"', picker)]
    assert order == [private, intent, group, general]
    assert (
        'data-text="Hi @card_leaker, please delete your post: it shows your card number. — Alex Agent"'
        in picker
    )
    assert "the customer exposed private data" in picker
    assert "&#34;&lt;img src=x onerror=alert(1)&gt;&#34;" in picker and "<img src=x" not in page
    assert f'data-template-id="{private}"' not in other


async def test_collision_control_in_the_console_and_the_api(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    bea = await another_agent(runtime, world, "Bea Agent")
    page = f"/conversations/{desk.fraud}"
    async with console_client(runtime) as alex:
        await login(alex, world.agent.email, PASSWORD)
        await post_form(alex, f"{page}/assign", {"assignee_id": str(world.agent.id)}, page=page)
    async with console_client(runtime) as client:
        await login(client, bea.email, PASSWORD)
        html = (await client.get(page)).text
        assert 'id="reply-locked">Assigned to Alex Agent: only they or a supervisor' in html
        assert re.search(r'id="visibility-public"[^>]*disabled', html)
        assert re.search(r'id="visibility-private"[^>]*disabled', html)
        assert not re.search(r'id="visibility-internal"[^>]*disabled', html)
        refused = await post_form(
            client, f"{page}/reply", {"text": "I'll take this one", "visibility": "public"}, page=page
        )
        assert refused.status_code == 403
        assert "assigned to Alex Agent; only they or a supervisor can reply" in refused.text
        assert "I&#39;ll take this one</textarea>" in refused.text, "the draft is kept"
        note = await post_form(
            client, f"{page}/reply", {"text": "FYI: known fraud", "visibility": "internal"}, page=page
        )
        assert note.status_code == 303
    async with runtime.database.unit_of_work() as session:
        _, token = await create_api_token(session, bea, "test")
    async with console_client(runtime) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        response = await api.post(
            f"/api/v1/conversations/{desk.fraud}/replies", json={"text": "hello", "visibility": "public"}
        )
        assert response.status_code == 403 and "assigned to Alex Agent" in response.json()["detail"]
    async with console_client(runtime) as sam:
        await login(sam, world.supervisor.email, PASSWORD)
        assert 'id="reply-locked"' not in (await sam.get(page)).text
        sent = await post_form(
            sam, f"{page}/reply", {"text": "We are on it.", "visibility": "public"}, page=page
        )
        assert sent.status_code == 303


async def test_opening_the_conversation_picks_it_up_for_its_assignee_only(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    page = f"/conversations/{desk.calm}"
    async with console_client(runtime) as sam:
        await login(sam, world.supervisor.email, PASSWORD)
        await post_form(sam, f"{page}/assign", {"assignee_id": str(world.agent.id)}, page=page)
        await sam.get(page)
    assert (await _conversation(runtime, desk.calm)).picked_up_at is None
    async with console_client(runtime) as alex:
        await login(alex, world.agent.email, PASSWORD)
        await alex.get(page)
        first = (await _conversation(runtime, desk.calm)).picked_up_at
        await alex.get(page)
    assert first is not None and (await _conversation(runtime, desk.calm)).picked_up_at == first
    async with runtime.database.reader() as session:
        pick_ups = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "conversation.pick_up"))
        ).all()
    assert [(entry.object_id, entry.actor_id) for entry in pick_ups] == [
        (str(desk.calm), str(world.agent.id))
    ]


async def test_availability_toggle_needs_csrf_is_audited_and_published(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        inbox = (await client.get("/inbox")).text
        assert 'id="availability" class="availability-state away">Away' in inbox
        assert '<span class="load-count">0 / 5</span>' in inbox
        forged = await client.post(
            "/me/availability", data={"availability": "online"}, headers={"Origin": ORIGIN}
        )
        assert forged.status_code == 403
        with runtime.bus.subscribe() as events:
            toggled = await post_form(
                client,
                "/me/availability",
                {"availability": "online", "next": "/inbox?view=mine"},
                page="/inbox",
            )
            event = await asyncio.wait_for(events.get(), timeout=5)
        assert toggled.status_code == 303 and toggled.headers["location"] == "/inbox?view=mine"
        assert event is not None and event.type == "agent.availability"
        assert event.data == {"agent_id": world.agent.id, "availability": "online"}
        assert 'class="availability-state online">Online' in (await client.get("/inbox")).text
        away = await post_form(
            client, "/me/availability", {"availability": "away", "next": "//evil.example/"}, page="/inbox"
        )
        assert away.headers["location"] == "/inbox"
        bad = await post_form(client, "/me/availability", {"availability": "asleep"}, page="/inbox")
        assert bad.status_code == 422
        page = f"/conversations/{desk.fraud}"
        await post_form(client, f"{page}/assign", {"assignee_id": str(world.agent.id)}, page=page)
        assert (await client.get("/me/load")).text.strip() == '<span class="load-count">1 / 5</span>'
    async with runtime.database.reader() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "agent.availability").order_by(AuditEntry.id)
            )
        ).all()
    assert [entry.details for entry in entries] == [
        {"from": "away", "to": "online"},
        {"from": "online", "to": "away"},
    ]


async def test_availability_through_the_api(runtime: Runtime, world: World) -> None:
    async with runtime.database.unit_of_work() as session:
        _, token = await create_api_token(session, await session.get_one(Agent, world.agent.id), "test")
    async with console_client(runtime) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        response = await api.post("/api/v1/me/availability", json={"availability": "online"})
        assert response.status_code == 200
        assert response.json() == {
            "id": world.agent.id,
            "availability": "online",
            "capacity": 5,
            "open_conversations": 0,
        }
        assert (await api.post("/api/v1/me/availability", json={"availability": "busy"})).status_code == 422
    async with runtime.database.reader() as session:
        assert (await session.get_one(Agent, world.agent.id)).availability is Availability.ONLINE


async def test_the_api_shows_triage_and_the_sla_clock(runtime: Runtime, world: World, desk: Desk) -> None:
    async with runtime.database.unit_of_work() as session:
        _, token = await create_api_token(session, await session.get_one(Agent, world.agent.id), "test")
    leak = await _conversation(runtime, desk.leak)
    async with console_client(runtime) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        detail = (await api.get(f"/api/v1/conversations/{desk.leak}")).json()
    assert detail["priority"] == 1 and detail["priority_reasons"] == leak.priority_reasons
    assert detail["private_data_exposed"] is True and detail["language"] == "en"
    assert detail["intent"] == leak.intent
    if leak.intent is not None:
        assert detail["intent_label"] == intent_label(leak.intent)
        assert detail["intent_group"] == group_of(leak.intent).value
    assert isinstance(detail["sentiment"], float)
    assert detail["sla"]["clock"] == "first_response" and detail["sla"]["status"] == "at_risk"
    assert 0 < detail["sla"]["minutes_left"] <= 5


async def test_another_brands_agent_sees_no_triage(runtime: Runtime, world: World, desk: Desk) -> None:
    async with console_client(runtime) as client:
        await login(client, world.outsider.email, PASSWORD)
        for path in (f"/conversations/{desk.leak}", f"/conversations/{desk.leak}/triage"):
            assert (await client.get(path)).status_code == 404
        assert _rows((await client.get("/inbox", params={"private_data": "true"})).text) == []


# Presence over the real console WebSocket.


@asynccontextmanager
async def _live(runtime: Runtime) -> AsyncIterator[str]:
    async with serving(create_app(runtime=runtime)) as url:
        yield url


async def _signed_in(url: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10)
    token = csrf_from((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}, headers={"Origin": url}
    )
    assert response.status_code == 303, response.text
    return client


@asynccontextmanager
async def _socket(url: str, client: httpx.AsyncClient) -> AsyncIterator[websockets.ClientConnection]:
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    headers = {"Cookie": cookies, "Origin": url}
    async with websockets.connect(
        url.replace("http://", "ws://") + "/ws/console", additional_headers=headers
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello == {"type": "hello", "presence_ttl": 30}
        yield ws


async def _next(ws: websockets.ClientConnection, kind: str, timeout: float = 5) -> dict[str, Any]:
    """The next frame of the given type (change notices in between are skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return dict(frame)


async def _nothing(ws: websockets.ClientConnection, kind: str, within: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await _next(ws, kind, timeout=within)


async def _settled(ws: websockets.ClientConnection) -> None:
    """Wait until the server has handled every frame sent so far: it answers them in order, so the
    error for a frame of no known type comes after them."""
    await ws.send("{}")
    await _next(ws, "error")


def _presence(conversation_id: object, state: object) -> str:
    return json.dumps({"type": "presence", "conversation_id": conversation_id, "state": state})


async def test_presence_is_relayed_to_the_brands_agents_on_the_conversation(
    runtime: Runtime, world: World, desk: Desk
) -> None:
    bea = await another_agent(runtime, world, "Bea Agent")
    async with _live(runtime) as url:
        alex_http, bea_http, eve_http = [
            await _signed_in(url, email) for email in (world.agent.email, bea.email, world.outsider.email)
        ]
        async with (
            _socket(url, alex_http) as alex,
            _socket(url, bea_http) as bea_ws,
            _socket(url, eve_http) as eve,
        ):
            await bea_ws.send(_presence(desk.fraud, "viewing"))
            await _settled(bea_ws)
            await alex.send(_presence(desk.fraud, "viewing"))
            seen = await _next(bea_ws, "presence")
            assert seen == {
                "type": "presence",
                "conversation_id": desk.fraud,
                "agent_id": world.agent.id,
                "name": "Alex Agent",
                "state": "viewing",
                "socket": seen["socket"],
            }
            # The newcomer hears at once who was there before.
            answer = await _next(alex, "presence")
            assert (answer["agent_id"], answer["name"], answer["state"]) == (bea.id, "Bea Agent", "viewing")
            await alex.send(_presence(desk.fraud, "typing"))
            assert (await _next(bea_ws, "presence"))["state"] == "typing"

            # Another brand's agent may not watch this conversation, and hears nothing of it.
            await eve.send(_presence(desk.fraud, "viewing"))
            assert (await _next(eve, "error"))["detail"] == "no such conversation"
            await alex.send(_presence(desk.fraud, "typing"))
            await _next(bea_ws, "presence")
            await _nothing(eve, "presence")
            await _nothing(alex, "presence")  # an agent does not hear themselves

            # An agent on another conversation hears nothing either.
            await bea_ws.send(_presence(desk.calm, "viewing"))
            assert (await _next(alex, "presence"))["state"] == "left"
            await alex.send(_presence(desk.fraud, "typing"))
            await _nothing(bea_ws, "presence")
            await bea_ws.send(_presence(desk.fraud, "viewing"))
            await _next(alex, "presence")
        for client in (alex_http, bea_http, eve_http):
            await client.aclose()


async def test_a_closed_console_says_left(runtime: Runtime, world: World, desk: Desk) -> None:
    bea = await another_agent(runtime, world, "Bea Agent")
    async with _live(runtime) as url:
        alex_http, bea_http = [await _signed_in(url, email) for email in (world.agent.email, bea.email)]
        async with _socket(url, bea_http) as bea_ws:
            await bea_ws.send(_presence(desk.leak, "viewing"))
            await _settled(bea_ws)
            async with _socket(url, alex_http) as alex:
                await alex.send(_presence(desk.leak, "viewing"))
                assert (await _next(bea_ws, "presence"))["state"] == "viewing"
            gone = await _next(bea_ws, "presence")
            assert (gone["agent_id"], gone["state"]) == (world.agent.id, "left")
        await alex_http.aclose()
        await bea_http.aclose()


MALFORMED = [
    "not json",
    "[1, 2]",
    json.dumps({"type": "shout"}),
    json.dumps({"type": "presence"}),
    _presence("1", "viewing"),
    _presence(True, "viewing"),
    _presence(2**70, "viewing"),
    _presence(1, "sleeping"),
]


async def test_malformed_presence_frames_are_refused(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=CALM)
    async with _live(runtime) as url:
        client = await _signed_in(url, world.agent.email)
        async with _socket(url, client) as ws:
            for frame in MALFORMED:
                await ws.send(frame)
                assert (await _next(ws, "error"))["detail"], frame
            # The socket still works.
            await ws.send(_presence(conversation_id, "viewing"))
            await _nothing(ws, "error")
        await client.aclose()


async def test_an_oversized_frame_closes_the_socket(runtime: Runtime, world: World) -> None:
    async with _live(runtime) as url:
        client = await _signed_in(url, world.agent.email)
        async with _socket(url, client) as ws:
            await ws.send(json.dumps({"type": "presence", "padding": "x" * MAX_FRAME}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await client.aclose()


async def test_presence_frames_are_rate_limited(runtime: Runtime, world: World, desk: Desk) -> None:
    bea = await another_agent(runtime, world, "Bea Agent")
    async with _live(runtime) as url:
        alex_http, bea_http = [await _signed_in(url, email) for email in (world.agent.email, bea.email)]
        async with _socket(url, alex_http) as alex, _socket(url, bea_http) as bea_ws:
            await bea_ws.send(_presence(desk.fraud, "viewing"))
            await _settled(bea_ws)
            for _ in range(100):
                await alex.send(_presence(desk.fraud, "typing"))
            heard = 0
            with pytest.raises(TimeoutError):
                while True:
                    await _next(bea_ws, "presence", timeout=1)
                    heard += 1
            assert 0 < heard <= 20
        await alex_http.aclose()
        await bea_http.aclose()


async def test_the_admin_link_is_for_admins_only(runtime: Runtime, world: World) -> None:
    admin = await another_agent(runtime, world, "Ada Admin", role=Role.ADMIN)
    async with console_client(runtime) as client:
        await login(client, admin.email, PASSWORD)
        assert 'id="nav-admin"' in (await client.get("/inbox")).text
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        assert 'id="nav-admin"' not in (await client.get("/inbox")).text
