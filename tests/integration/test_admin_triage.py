"""The admin pages: priority rules, SLA and hours, teams and templates — who may see and change them,
what is validated, what is audited, and that hostile input is refused without storing anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from haven.agents.service import create_agent
from haven.demo.triage_seed import PRIVATE_DATA_TEMPLATE, seed_triage_demo
from haven.models import (
    Agent,
    AuditEntry,
    Contact,
    Conversation,
    ResponseTemplate,
    Role,
    Team,
    TriageSettings,
)
from haven.responses.render import render_template
from haven.runtime import Runtime
from haven.triage.business_hours import Week
from haven.triage.policy import load_policy
from haven.triage.priority import DEFAULT_RULES, Condition, dump_rules
from haven.triage.sla import due_times
from haven.web.admin_pages import CONDITION_HELP
from tests.factories import PASSWORD, World
from tests.integration.web import ORIGIN, console_client, csrf_from, login

Form = Mapping[str, str | Sequence[str]]
VIEW_PAGES = ("/admin", "/admin/priority", "/admin/sla", "/admin/teams", "/admin/templates")
HOSTILE_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def _agent(runtime: Runtime, world: World, role: Role, *, name: str = "Ada Admin") -> Agent:
    async with runtime.database.unit_of_work() as session:
        return await create_agent(
            session,
            brand_id=world.brand.id,
            email=f"{role.value}-{world.brand.slug}@bank.example",
            display_name=name,
            password=PASSWORD,
            role=role,
        )


@asynccontextmanager
async def signed_in(runtime: Runtime, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with console_client(runtime) as client:
        assert (await login(client, email, PASSWORD)).status_code == 303
        yield client


@asynccontextmanager
async def as_admin(runtime: Runtime, world: World) -> AsyncIterator[httpx.AsyncClient]:
    admin = await _agent(runtime, world, Role.ADMIN)
    async with signed_in(runtime, admin.email) as client:
        yield client


async def post(client: httpx.AsyncClient, url: str, data: Form, *, page: str = "/admin") -> httpx.Response:
    """Post a form as the browser would: the CSRF token from a page, this site's Origin."""
    token = csrf_from((await client.get(page)).text)
    return await client.post(url, data={"csrf_token": token, **data}, headers={"Origin": ORIGIN})


async def audit(runtime: Runtime, action: str) -> list[AuditEntry]:
    async with runtime.database.reader() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def count(runtime: Runtime, model: type[Team] | type[ResponseTemplate] | type[TriageSettings]) -> int:
    async with runtime.database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# Who may see and change what ------------------------------------------------------------------


async def test_admins_see_every_page_supervisors_read_only_agents_not_at_all(
    runtime: Runtime, world: World
) -> None:
    pages = (*VIEW_PAGES, f"/admin/teams/{world.team.id}", "/admin/teams/new", "/admin/templates/new")
    async with as_admin(runtime, world) as client:
        for page in pages:
            response = await client.get(page)
            assert response.status_code == 200, page
            assert 'id="read-only"' not in response.text
    async with signed_in(runtime, world.supervisor.email) as client:
        for page in (*VIEW_PAGES, f"/admin/teams/{world.team.id}"):
            response = await client.get(page)
            assert response.status_code == 200, page
            assert 'id="read-only"' in response.text and "<button" not in response.text.split("<main>")[1]
        for page in ("/admin/teams/new", "/admin/templates/new"):
            assert (await client.get(page)).status_code == 403
        refused = [
            await post(client, url, data, page="/admin/priority")
            for url, data in (
                ("/admin/priority", {"rules": "[]"}),
                ("/admin/priority/reset", {}),
                ("/admin/priority/preview", {"rules": "[]"}),
                ("/admin/sla", {"timezone": "UTC"}),
                ("/admin/teams", {"name": "Sneaky"}),
                (f"/admin/teams/{world.team.id}", {"name": "Renamed"}),
                (f"/admin/teams/{world.team.id}/delete", {}),
                ("/admin/templates", {"name": "Sneaky", "body_en": "Hi"}),
            )
        ]
        assert [response.status_code for response in refused] == [403] * len(refused)
        assert "Only admins can change" in refused[0].text
    async with signed_in(runtime, world.agent.email) as client:
        for page in pages:
            response = await client.get(page)
            assert response.status_code == 403, page
            assert "Only admins and supervisors" in response.text or "Only admins can" in response.text
    assert await count(runtime, TriageSettings) == 0
    assert await count(runtime, Team) == 1 and await count(runtime, ResponseTemplate) == 0


async def test_a_change_without_the_csrf_token_or_from_another_site_is_refused(
    runtime: Runtime, world: World
) -> None:
    async with as_admin(runtime, world) as client:
        token = csrf_from((await client.get("/admin/priority")).text)
        no_token = await client.post("/admin/priority", data={"rules": "[]"}, headers={"Origin": ORIGIN})
        foreign = await client.post(
            "/admin/teams",
            data={"csrf_token": token, "name": "Evil"},
            headers={"Origin": "https://evil.example"},
        )
    assert no_token.status_code == foreign.status_code == 403
    assert await count(runtime, TriageSettings) == 0 and await count(runtime, Team) == 1


# Priority rules -------------------------------------------------------------------------------


def _rules_with(**changes: object) -> list[dict[str, object]]:
    rules: list[dict[str, object]] = json.loads(dump_rules(DEFAULT_RULES))
    rules[3]["when"] = {"followers_at_least": changes.get("followers", 10_000)}
    return rules


async def test_valid_rules_are_saved_audited_and_used_then_reset(runtime: Runtime, world: World) -> None:
    document = json.dumps(_rules_with(followers=50_000))
    async with as_admin(runtime, world) as client:
        page = (await client.get("/admin/priority")).text
        assert "followers_at_least" in page and "These are the default rules." in page
        saved = await post(client, "/admin/priority", {"rules": document}, page="/admin/priority")
        assert saved.status_code == 303 and saved.headers["location"] == "/admin/priority?saved=rules"
        page = (await client.get(saved.headers["location"])).text
        assert (
            "The priority rules are saved" in page
            and "50000" in page
            and "These are the brand's own rules." in page
        )
        async with runtime.database.reader() as session:
            policy = await load_policy(session, world.brand.id)
        assert policy.rules[3].when.followers_at_least == 50_000
        (entry,) = await audit(runtime, "config.priority_rules")
        assert entry.object_id == str(world.brand.id) and entry.details == {"rules": 5, "enabled": 5}

        reset = await post(client, "/admin/priority/reset", {}, page="/admin/priority")
        assert reset.headers["location"] == "/admin/priority?saved=reset"
    async with runtime.database.reader() as session:
        assert (await load_policy(session, world.brand.id)).rules == DEFAULT_RULES
    assert [entry.details for entry in await audit(runtime, "config.priority_rules")][1] == {"reset": True}


def _many_rules(n: int) -> str:
    return json.dumps(
        [{"name": f"Rule {i}", "when": {"followers_at_least": i}, "then": {"raise_by": 1}} for i in range(n)]
    )


#: Rules documents an admin might paste by mistake or on purpose, and what the page says about each.
BAD_RULES = [
    ('[{"name": "Oops", "when": {"verified": true}, "then": {"raise_by": 1}', "not valid JSON"),
    (
        '[{"name": "Fraud", "when": {"intents": ["free_money"]}, "then": {"set_priority": 1}}]',
        "Rule 1 (&#39;Fraud&#39;), when.intents[0]: unknown intent &#39;free_money&#39;",
    ),
    (
        '[{"name": "X", "when": {"verified": true}, "then": {"raise_by": 1}, "colour": "red"}]',
        "colour: is not a known field",
    ),
    (
        '[{"name": "X", "when": {"followers_at_least": "many"}, "then": {"raise_by": 1}}]',
        "followers_at_least",
    ),
    ('[{"name": "X", "when": {"verified": true}, "then": {"set_priority": 9}}]', "then.set_priority"),
    ('{"rules": []}', "must be a JSON list of rules"),
    ("[" * 5000 + "]" * 5000, "not valid JSON"),
    (
        json.dumps([{"name": "Bad\u202ename", "when": {"verified": True}, "then": {"raise_by": 1}}]),
        "control",
    ),
    (_many_rules(1000), "limit is 65,536"),
    (_many_rules(101), "101 entries"),
    ("[" + " " * 1_000_000 + "]", "The document is 1,000,002 bytes; the limit is 65,536"),
]


async def test_invalid_rules_are_refused_clearly_and_nothing_is_stored(
    runtime: Runtime, world: World
) -> None:
    async with as_admin(runtime, world) as client:
        for document, message in BAD_RULES:
            response = await post(client, "/admin/priority", {"rules": document}, page="/admin/priority")
            assert response.status_code == 422, message
            assert 'id="problems"' in response.text and message in response.text
            if len(document) < 10_000:
                # The admin's text stays in the editor, to be fixed rather than typed again.
                assert response.text.count(document.replace('"', "&#34;")) == 1, message
    assert await count(runtime, TriageSettings) == 0
    assert await audit(runtime, "config.priority_rules") == []


async def test_a_field_over_a_megabyte_is_refused_before_it_is_read(runtime: Runtime, world: World) -> None:
    async with as_admin(runtime, world) as client:
        response = await post(client, "/admin/priority", {"rules": "[" + " " * 1_100_000 + "]"})
    assert response.status_code == 400 and "maximum size" in response.text
    assert await count(runtime, TriageSettings) == 0


async def test_trying_rules_on_a_sample_post_shows_the_decision_and_stores_nothing(
    runtime: Runtime, world: World
) -> None:
    document = json.dumps(_rules_with(followers=500))
    sample = {
        "rules": document,
        "sample_intent": "card_arrival",
        "sample_confidence": "0.8",
        "sample_sentiment": "-0.7",
        "sample_followers": "1000",
        "sample_language": "en",
        "sample_channel": "public",
    }
    async with as_admin(runtime, world) as client:
        tried = await post(client, "/admin/priority/preview", sample, page="/admin/priority")
        wrong = await post(
            client, "/admin/priority/preview", {**sample, "sample_sentiment": "nan"}, page="/admin/priority"
        )
    assert tried.status_code == 200
    assert '<strong id="decision-priority">P1</strong>' in tried.text
    assert "raised by 1 — Angry customer" in tried.text and "1,000 followers ≥ 500" in tried.text
    assert wrong.status_code == 422 and "Sample sentiment: a number from -1 to 1" in wrong.text
    assert await count(runtime, TriageSettings) == 0


def test_the_rule_reference_explains_every_condition() -> None:
    assert set(CONDITION_HELP) == set(Condition.model_fields)


# SLA & hours ----------------------------------------------------------------------------------


def _sla_form(**changes: str) -> dict[str, str]:
    form = {
        "timezone": "Europe/Madrid",
        "hours_mon": "09:00-13:00, 14:00-18:00",
        "hours_tue": "9:00-18:00",
        "hours_wed": "09:00-18:00",
        "hours_thu": "09:00-18:00",
        "hours_fri": "09:00-15:00",
        "hours_sat": "",
        "hours_sun": "",
        "holidays": "2030-12-25\n2030-01-01",
        "pickup_minutes": "10",
    }
    for priority, (first, resolution) in enumerate(((10, 120), (30, 240), (120, 480), (240, 1440)), 1):
        form[f"p{priority}_first_response"] = str(first)
        form[f"p{priority}_resolution"] = str(resolution)
        if priority > 1:
            form[f"p{priority}_business_hours"] = "on"
    form.update(changes)
    return form


async def test_sla_and_hours_are_saved_audited_and_move_open_deadlines(
    runtime: Runtime, world: World
) -> None:
    opened = datetime(2030, 3, 4, 9, 30, tzinfo=UTC)
    async with runtime.database.unit_of_work() as session:
        contact = Contact(brand_id=world.brand.id, display_name="Waiting Customer")
        session.add(contact)
        await session.flush()
        conversation = Conversation(
            brand_id=world.brand.id,
            channel_account_id=world.account.id,
            contact_id=contact.id,
            thread_key="t-1",
            priority=3,
            waiting_since=opened,
        )
        session.add(conversation)
    async with as_admin(runtime, world) as client:
        saved = await post(client, "/admin/sla", _sla_form(), page="/admin/sla")
        assert saved.status_code == 303
        page = (await client.get(saved.headers["location"])).text
    assert "deadlines now follow" in page and 'value="Europe/Madrid"' in page
    assert 'value="09:00-18:00"' in page and "2030-01-01\n2030-12-25" in page
    async with runtime.database.reader() as session:
        policy = await load_policy(session, world.brand.id)
        stored = await session.get_one(Conversation, conversation.id)
    assert policy.targets.p1.first_response_minutes == 10 and not policy.targets.p1.business_hours_apply
    assert policy.hours.week == Week(
        mon=(("09:00", "13:00"), ("14:00", "18:00")),
        tue=(("09:00", "18:00"),),
        wed=(("09:00", "18:00"),),
        thu=(("09:00", "18:00"),),
        fri=(("09:00", "15:00"),),
    )
    assert policy.pickup_minutes == 10 and policy.keep_exposed_originals is False
    due = due_times(opened, 3, policy.targets, policy.hours)
    assert stored.first_response_due is not None
    assert stored.first_response_due.replace(tzinfo=UTC) == due.first_response_due
    (entry,) = await audit(runtime, "config.sla")
    assert entry.details["timezone"] == "Europe/Madrid" and entry.details["holidays"] == 2


BAD_SLA = [
    ({"timezone": "Mars/Olympus"}, "Time zone: is not a known IANA time zone"),
    ({"timezone": "../../etc/passwd"}, "Time zone: is not a known IANA time zone"),
    ({"hours_mon": "09:00-13:00, 12:00-18:00"}, "Monday: 12:00–18:00 overlaps"),
    ({"hours_tue": "18:00-09:00"}, "Tuesday: 18:00–09:00 must end after it starts"),
    ({"hours_wed": "25:00-26:00"}, "is not a time of day as HH:MM"),
    ({"hours_thu": "all day"}, "Thursday: write opening times as 08:00-12:00"),
    (
        {"holidays": "2030-02-30\nChristmas"},
        "Holidays: &#39;2030-02-30&#39;, &#39;Christmas&#39; are not dates",
    ),
    ({"holidays": "2030-12-25 2030-12-25"}, "Holidays: lists a day twice"),
    ({f"hours_{day}": "" for day in ("mon", "tue", "wed", "thu", "fri")}, "open at least one interval"),
    ({"pickup_minutes": "0"}, "Pickup time: a whole number of minutes from 1 to 240"),
    ({"pickup_minutes": "241"}, "Pickup time: a whole number of minutes from 1 to 240"),
    ({"p2_first_response": "ten"}, "P2 first response: a whole number of minutes"),
    ({"p3_first_response": "600", "p3_resolution": "60"}, "P3: the first response cannot be due after"),
    ({"p4_resolution": "9" * 40}, "P4 resolution: a whole number of minutes"),
]


async def test_invalid_sla_and_hours_are_refused_clearly_and_nothing_is_stored(
    runtime: Runtime, world: World
) -> None:
    async with as_admin(runtime, world) as client:
        for changes, message in BAD_SLA:
            response = await post(client, "/admin/sla", _sla_form(**changes), page="/admin/sla")
            assert response.status_code == 422 and message in response.text, message
            for value in filter(None, changes.values()):
                # What the admin typed is shown again.
                assert f'value="{value}"' in response.text or f">{value}</textarea>" in response.text
    assert await count(runtime, TriageSettings) == 0 and await audit(runtime, "config.sla") == []


# Teams ----------------------------------------------------------------------------------------


async def test_teams_are_created_edited_and_deleted_with_members_and_capacity(
    runtime: Runtime, world: World
) -> None:
    async with as_admin(runtime, world) as client:
        created = await post(
            client,
            "/admin/teams",
            {
                "name": "Spanish desk",
                "languages": ["es"],
                "intent_groups": ["cards", "payments"],
                "routing_mode": "round_robin",
                "members": [str(world.agent.id)],
                f"capacity_{world.agent.id}": "8",
                f"capacity_{world.supervisor.id}": "5",
            },
            page="/admin/teams/new",
        )
        assert created.status_code == 303
        listing = (await client.get(created.headers["location"])).text
        assert "Spanish desk" in listing and "Alex Agent <span" in listing and "(8)" in listing
        async with runtime.database.reader() as session:
            team = await session.scalar(select(Team).where(Team.name == "Spanish desk"))
            assert team is not None
            assert (team.languages, team.intent_groups, team.routing_mode.value) == (
                ["es"],
                ["cards", "payments"],
                "round_robin",
            )
            assert [member.id for member in team.members] == [world.agent.id]
            assert (await session.get_one(Agent, world.agent.id)).capacity == 8

        edited = await post(
            client,
            f"/admin/teams/{team.id}",
            {
                "name": "Spanish desk",
                "routing_mode": "least_loaded",
                "members": [str(world.agent.id), str(world.supervisor.id)],
            },
            page=f"/admin/teams/{team.id}",
        )
        assert edited.status_code == 303
        async with runtime.database.reader() as session:
            team = await session.get_one(Team, team.id)
            assert team.languages == [] and sorted(m.id for m in team.members) == sorted(
                [world.agent.id, world.supervisor.id]
            )
        deleted = await post(client, f"/admin/teams/{team.id}/delete", {}, page=f"/admin/teams/{team.id}")
        assert deleted.status_code == 303
    assert [entry.object_id for entry in await audit(runtime, "team.create")] == [str(team.id)]
    assert len(await audit(runtime, "team.update")) == 1 and len(await audit(runtime, "team.delete")) == 1
    (capacity,) = await audit(runtime, "agent.capacity")
    assert capacity.object_id == str(world.agent.id) and capacity.details == {"from": 5, "to": 8}
    assert await count(runtime, Team) == 1


BAD_TEAMS: list[tuple[dict[str, str | list[str]], str]] = [
    ({"name": ""}, "Name: required"),
    ({"name": "Social care"}, "the brand has a team called"),
    ({"name": "Tab\tname"}, "invisible formatting characters"),
    ({"name": "x" * 101}, "Name: at most 100 characters"),
    ({"languages": ["es", "xx"]}, "Languages: unknown &#39;xx&#39;"),
    ({"intent_groups": ["crypto"]}, "Intent groups: unknown &#39;crypto&#39;"),
    ({"routing_mode": "random"}, "Routing: choose round_robin or least_loaded"),
    ({"members": ["999999"]}, "Members: only the brand&#39;s agents"),
    ({"capacity_AGENT": "0"}, "Capacity of Alex Agent: a whole number from 1 to 50"),
    ({"capacity_AGENT": "51"}, "Capacity of Alex Agent: a whole number from 1 to 50"),
    ({"capacity_AGENT": "²"}, "Capacity of Alex Agent"),
]


async def test_invalid_teams_are_refused_clearly(runtime: Runtime, world: World) -> None:
    async with as_admin(runtime, world) as client:
        for form, message in BAD_TEAMS:
            data: dict[str, str | list[str]] = {"name": "Cards", "routing_mode": "least_loaded"}
            data.update({key.replace("AGENT", str(world.agent.id)): value for key, value in form.items()})
            response = await post(client, "/admin/teams", data, page="/admin/teams/new")
            assert response.status_code == 422 and message in response.text, message
    assert await count(runtime, Team) == 1 and await audit(runtime, "team.create") == []
    async with runtime.database.reader() as session:
        assert (await session.get_one(Agent, world.agent.id)).capacity == 5


async def test_another_brands_team_or_agent_is_not_found(runtime: Runtime, world: World) -> None:
    async with runtime.database.unit_of_work() as session:
        foreign = Team(brand_id=world.other_brand.id, name="Their team")
        session.add(foreign)
        await session.flush()
        foreign_id = foreign.id
    async with as_admin(runtime, world) as client:
        seen = await client.get(f"/admin/teams/{foreign_id}")
        huge = await client.get("/admin/teams/99999999999999999999")
        edited = await post(client, f"/admin/teams/{foreign_id}", {"name": "Mine now"})
        deleted = await post(client, f"/admin/teams/{foreign_id}/delete", {})
        poached = await post(
            client,
            f"/admin/teams/{world.team.id}",
            {"name": "Social care", "routing_mode": "least_loaded", "members": [str(world.outsider.id)]},
        )
        listing = (await client.get("/admin/teams")).text
    assert [seen.status_code, edited.status_code, deleted.status_code] == [404, 404, 404]
    assert huge.status_code == 422
    assert poached.status_code == 422 and "Their team" not in listing
    async with runtime.database.reader() as session:
        assert (await session.get_one(Team, foreign_id)).name == "Their team"


async def test_html_in_names_is_shown_as_text(runtime: Runtime, world: World) -> None:
    async with as_admin(runtime, world) as client:
        await post(client, "/admin/teams", {"name": HOSTILE_NAME, "routing_mode": "least_loaded"})
        await post(client, "/admin/templates", {"name": HOSTILE_NAME, "body_en": "Thanks {customer_name}!"})
        pages = [(await client.get(url)).text for url in ("/admin", "/admin/teams", "/admin/templates")]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[1] + pages[2]


# Templates ------------------------------------------------------------------------------------


async def test_templates_are_created_edited_and_deleted(runtime: Runtime, world: World) -> None:
    async with as_admin(runtime, world) as client:
        page = (await client.get("/admin/templates/new")).text
        assert "{customer_name}" in page and "{agent_name}" in page
        created = await post(
            client,
            "/admin/templates",
            {
                "name": "Card arrival",
                "intents": ["card_arrival", "card_delivery_estimate"],
                "intent_groups": ["cards"],
                "body_en": "Hi {customer_name}, cards arrive within 5 days.\r\n{agent_name}",
                "body_es": "Hola {customer_name}, las tarjetas llegan en 5 días. {{sin variables}}",
                "body_fr": "   ",
            },
            page="/admin/templates/new",
        )
        assert created.status_code == 303
        async with runtime.database.reader() as session:
            template = await session.scalar(select(ResponseTemplate))
            assert template is not None
            assert template.intents == ["card_arrival", "card_delivery_estimate"]
            assert {v.language: v.body for v in template.variants} == {
                "en": "Hi {customer_name}, cards arrive within 5 days.\n{agent_name}",
                "es": "Hola {customer_name}, las tarjetas llegan en 5 días. {{sin variables}}",
            }
        edited = await post(
            client,
            f"/admin/templates/{template.id}",
            {
                "name": "Card arrival",
                "intents": ["card_arrival"],
                "body_en": "New text",
                "body_de": "Neuer Text",
            },
            page=f"/admin/templates/{template.id}",
        )
        assert edited.status_code == 303
        async with runtime.database.reader() as session:
            template = await session.get_one(ResponseTemplate, template.id)
            assert template.intent_groups == []
            assert {v.language: v.body for v in template.variants} == {"de": "Neuer Text", "en": "New text"}
        listing = (await client.get("/admin/templates")).text
        assert "Card arrival" in listing and ">de</code>" in listing
        deleted = await post(client, f"/admin/templates/{template.id}/delete", {})
        assert deleted.status_code == 303
    created_entry = (await audit(runtime, "template.create"))[0]
    assert created_entry.details["languages"] == ["en", "es"] and "Hi {customer_name}" not in str(
        created_entry.details
    )
    assert (
        len(await audit(runtime, "template.update")) == 1
        and len(await audit(runtime, "template.delete")) == 1
    )
    assert await count(runtime, ResponseTemplate) == 0


BAD_TEMPLATES: list[tuple[dict[str, str | list[str]], str]] = [
    ({"body_en": "Hi {foo}"}, "Text (English): unknown variable {foo}"),
    ({"body_en": "Hi {customer_name.__class__}"}, "unknown variable {customer_name.__class__}"),
    ({"body_en": "Hi {customer_name[0]}"}, "unknown variable"),
    ({"body_en": "Hi {customer_name!r}"}, "takes no format or conversion"),
    ({"body_en": "Hi {customer_name"}, "unbalanced braces"),
    ({"body_en": "Hi }"}, "unbalanced braces"),
    ({"body_en": "x" * 2001}, "Text (English): at most 2,000 characters"),
    ({"body_en": "Hi\x00there"}, "must not contain control characters"),
    ({"body_en": ""}, "write the reply in at least one language"),
    ({"body_en": "", "body_xx": "Hi"}, "write the reply in at least one language"),
    ({"name": "Thanks"}, "the brand has a template called &#39;Thanks&#39; already"),
    ({"name": "Line\nbreak"}, "invisible formatting characters"),
    ({"intents": ["card_arrival", "free_money"]}, "Intents: unknown &#39;free_money&#39;"),
    ({"intent_groups": ["crypto"]}, "Intent groups: unknown &#39;crypto&#39;"),
    ({"for_private_data": "on", "intents": ["card_arrival"]}, "leave its intents and groups empty"),
]


async def test_invalid_templates_are_refused_clearly(runtime: Runtime, world: World) -> None:
    async with as_admin(runtime, world) as client:
        first = await post(client, "/admin/templates", {"name": "Thanks", "body_en": "Thank you!"})
        assert first.status_code == 303
        for form, message in BAD_TEMPLATES:
            response = await post(client, "/admin/templates", {"name": "Card", "body_en": "Hi", **form})
            assert response.status_code == 422 and message in response.text, message
    assert await count(runtime, ResponseTemplate) == 1 and len(await audit(runtime, "template.create")) == 1


async def test_another_brands_template_is_not_found(runtime: Runtime, world: World) -> None:
    async with runtime.database.unit_of_work() as session:
        foreign = ResponseTemplate(brand_id=world.other_brand.id, name="Theirs", variants=[])
        session.add(foreign)
        await session.flush()
        foreign_id = foreign.id
    async with as_admin(runtime, world) as client:
        seen = await client.get(f"/admin/templates/{foreign_id}")
        edited = await post(client, f"/admin/templates/{foreign_id}", {"name": "Mine", "body_en": "Hi"})
        deleted = await post(client, f"/admin/templates/{foreign_id}/delete", {})
        listing = (await client.get("/admin/templates")).text
    assert [seen.status_code, edited.status_code, deleted.status_code] == [404, 404, 404]
    assert "Theirs" not in listing
    async with runtime.database.reader() as session:
        assert (await session.get_one(ResponseTemplate, foreign_id)).name == "Theirs"


# The demo's templates and teams ---------------------------------------------------------------


async def test_the_demo_seed_makes_templates_and_teams_once(runtime: Runtime, world: World) -> None:
    for _ in range(2):
        async with runtime.database.unit_of_work() as session:
            await seed_triage_demo(session, world.brand)
    async with runtime.database.reader() as session:
        templates = {t.name: t for t in (await session.scalars(select(ResponseTemplate))).all()}
        teams = {t.name: t for t in (await session.scalars(select(Team))).all()}
    private = templates[PRIVATE_DATA_TEMPLATE]
    assert private.for_private_data and {v.language for v in private.variants} == {"en", "es", "fr", "de"}
    assert {"Card lost or stolen", "Card arrival", "Transfer pending", "Refund", "Thanks"} <= set(templates)
    # "Social care" has no skills and takes what no other team does, so no "General" is added.
    assert set(teams) == {"Social care", "Fraud & security", "Cards & payments", "Spanish desk"}
    assert teams["Spanish desk"].languages == ["es"]
    assert {m.id for m in teams["Fraud & security"].members} == {world.agent.id, world.supervisor.id}
    values = {
        "customer_name": "Maria Fernández-López",
        "customer_handle": "@maria_fl",
        "agent_name": "Alex Agent",
        "brand": "Example Bank",
    }
    for template in templates.values():
        for variant in template.variants:
            # Public replies on X hold 280 characters.
            assert len(render_template(variant.body, values)) <= 280, (template.name, variant.language)
