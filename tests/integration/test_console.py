"""The agent console over HTTP: sign-in, CSRF, sessions, escaping, replies, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from haven.kit.clock import utcnow
from haven.models import AgentSession, Message, Visibility
from haven.runtime import Runtime
from haven.security.csrf import CSRF_COOKIE
from haven.security.sessions import SESSION_COOKIE
from tests.factories import PASSWORD, World, inbound_conversation
from tests.integration.web import ORIGIN, console_client, csrf_from, login, post_form

HOSTILE = '@ExampleBankHelp <script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


async def test_login_page_sets_a_strict_csrf_cookie_and_security_headers(runtime: Runtime) -> None:
    async with console_client(runtime) as client:
        response = await client.get("/login")
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"


async def test_sign_in_sets_a_hardened_session_cookie(runtime: Runtime, world: World) -> None:
    async with console_client(runtime) as client:
        response = await login(client, world.agent.email, PASSWORD)
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert (await client.get("/inbox")).status_code == 200


async def test_secure_cookie_flag_when_configured(runtime: Runtime, world: World) -> None:
    async with console_client(runtime, cookie_secure=True) as client:
        # Over plain http the browser keeps the Secure CSRF cookie to itself: sign-in cannot work.
        assert (await login(client, world.agent.email, PASSWORD)).status_code == 403
    async with console_client(runtime, origin="https://testserver", cookie_secure=True) as client:
        response = await login(client, world.agent.email, PASSWORD)
    cookies = response.headers.get_list("set-cookie")
    assert all("Secure" in cookie for cookie in cookies) and len(cookies) == 1


@pytest.mark.parametrize("email", ["known", "nobody@bank.example"])
async def test_wrong_credentials_get_the_same_answer(runtime: Runtime, world: World, email: str) -> None:
    async with console_client(runtime) as client:
        response = await login(client, world.agent.email if email == "known" else email, "wrong password!")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_forged_or_cross_site_posts_are_refused(runtime: Runtime, world: World) -> None:
    async with console_client(runtime) as client:
        token = csrf_from((await client.get("/login")).text)
        form = {"email": world.agent.email, "password": PASSWORD}
        no_token = await client.post("/login", data=form, headers={"Origin": ORIGIN})
        wrong_token = await client.post(
            "/login", data={**form, "csrf_token": "x" * 32}, headers={"Origin": ORIGIN}
        )
        foreign = await client.post(
            "/login", data={**form, "csrf_token": token}, headers={"Origin": "https://evil.example"}
        )
        no_origin = await client.post("/login", data={**form, "csrf_token": token})
        referer_ok = await client.post(
            "/login", data={**form, "csrf_token": token}, headers={"Referer": f"{ORIGIN}/login"}
        )
    assert [r.status_code for r in (no_token, wrong_token, foreign, no_origin)] == [403] * 4
    assert "reload the page" in no_token.text
    assert referer_ok.status_code == 303


async def test_login_attempts_are_throttled(runtime: Runtime, world: World) -> None:
    async with console_client(runtime, login_attempts_per_window=3) as client:
        codes = [(await login(client, world.agent.email, "wrong password!")).status_code for _ in range(4)]
        # Even the right password waits until the window has passed.
        right = await login(client, world.agent.email, PASSWORD)
    assert codes == [401, 401, 401, 429]
    assert right.status_code == 429


async def test_pages_need_a_live_session(runtime: Runtime, world: World) -> None:
    async with console_client(runtime) as client:
        for path in ("/inbox", "/inbox/rows", "/conversations/1", "/conversations/1/timeline"):
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/login", path
        await login(client, world.agent.email, PASSWORD)
        assert (await client.get("/inbox")).status_code == 200
        async with runtime.database.unit_of_work() as session:
            await session.execute(update(AgentSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert (await client.get("/inbox")).status_code == 303


async def test_sign_out_revokes_the_session_server_side(runtime: Runtime, world: World) -> None:
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        stolen = client.cookies[SESSION_COOKIE]
        response = await post_form(client, "/logout", {}, page="/inbox")
        assert response.status_code == 303
        client.cookies.set(SESSION_COOKIE, stolen)
        assert (await client.get("/inbox")).status_code == 303


async def test_hostile_tweets_are_shown_escaped(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=HOSTILE, username="evil<b>")
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        pages = [
            await client.get(p)
            for p in (
                "/inbox",
                "/inbox/rows",
                f"/conversations/{conversation_id}",
                f"/conversations/{conversation_id}/timeline",
            )
        ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>" not in page.text
        assert "&lt;script&gt;" in page.text


async def test_reply_from_the_console(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    page = f"/conversations/{conversation_id}"
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        sent = await post_form(
            client, f"{page}/reply", {"text": "Hi! We're on it.", "visibility": "public"}, page=page
        )
        assert sent.status_code == 303 and sent.headers["location"] == page
        timeline = (await client.get(f"{page}/timeline")).text
        assert "Hi! We&#39;re on it." in timeline and "queued" in timeline
        too_long = await post_form(
            client, f"{page}/reply", {"text": "y" * 281, "visibility": "public"}, page=page
        )
        assert too_long.status_code == 422 and "longer than 280 characters" in too_long.text
        private = await post_form(
            client, f"{page}/reply", {"text": "Sent you a DM", "visibility": "private"}, page=page
        )
        assert private.status_code == 303
        bad = await post_form(client, f"{page}/reply", {"text": "z", "visibility": "shout"}, page=page)
        assert bad.status_code == 422 and "not filled in correctly" in bad.text
        huge = await post_form(
            client, f"{page}/reply", {"text": "z" * 10_001, "visibility": "internal"}, page=page
        )
        assert huge.status_code == 422
    async with runtime.database.reader() as session:
        outbound = (
            await session.scalars(select(Message).where(Message.author_agent_id == world.agent.id))
        ).all()
    assert [(m.text, m.visibility) for m in outbound] == [
        ("Hi! We're on it.", Visibility.PUBLIC),
        ("Sent you a DM", Visibility.PRIVATE),
    ]


async def test_assign_resolve_and_reopen(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    page = f"/conversations/{conversation_id}"
    async with console_client(runtime) as client:
        await login(client, world.agent.email, PASSWORD)
        await post_form(client, f"{page}/assign", {"assignee_id": str(world.agent.id)}, page=page)
        assert 'id="conversation-assignee">Alex Agent' in (await client.get(page)).text
        assert str(conversation_id) in (await client.get("/inbox/rows?view=mine")).text
        await post_form(client, f"{page}/resolve", {}, page=page)
        assert f'data-conversation-id="{conversation_id}"' in (await client.get("/inbox?view=resolved")).text
        assert f'data-conversation-id="{conversation_id}"' not in (await client.get("/inbox")).text
        await post_form(client, f"{page}/reopen", {}, page=page)
        assert f'data-conversation-id="{conversation_id}"' in (await client.get("/inbox")).text
        outsider = await post_form(
            client, f"{page}/assign", {"assignee_id": str(world.outsider.id)}, page=page
        )
        assert outsider.status_code == 422


async def test_another_brands_conversation_is_not_found(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    async with console_client(runtime) as client:
        await login(client, world.outsider.email, PASSWORD)
        page = await client.get(f"/conversations/{conversation_id}")
        assert page.status_code == 404
        token = csrf_from((await client.get("/inbox")).text)
        reply = await client.post(
            f"/conversations/{conversation_id}/reply",
            data={"csrf_token": token, "text": "hi", "visibility": "public"},
            headers={"Origin": ORIGIN},
        )
        assert reply.status_code == 404
        assert str(conversation_id) not in (await client.get("/inbox/rows")).text
    async with runtime.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
