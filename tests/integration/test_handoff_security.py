"""Every refusal the secure handoff promises, against a real Haven on a socket.

Each attack gets a clear answer (a status code and a page, a JSON body, an error frame or a refused
handshake) and leaves nothing behind: no row, no spent attempt it should not spend, no secret in
the logs or the audit trail. The customer's and the agent's browsers are played with httpx and the
websockets client (tests/handoff_support.py, tests/handoff_attacks.py); the bank's sign-in is a real
OpenID provider run with node (tests/oidc_support.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import ColumnElement, func, select, update

from haven.handoff.chat import CHAT_COOKIE
from haven.handoff.invitations import LinkProblem, invitation_for_token, invite
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.models import (
    Agent,
    AuditEntry,
    Chat,
    ChatInvitation,
    ChatStatus,
    Conversation,
    FormStatus,
    InvitationStatus,
    Message,
    SecureForm,
    SecureFormValue,
    VerificationMethod,
)
from haven.models.base import Base
from haven.realtime.chat_ws import MAX_FRAME, MESSAGE_BURST
from haven.runtime import Runtime
from haven.security.crypto import DecryptionError
from tests.factories import World
from tests.handoff_attacks import (
    FOREIGN_ORIGIN,
    audit_dump,
    backend_runtime,
    browser_with,
    chat_texts,
    csrf_post,
    enter_chat,
    force_invitation,
    invitation_of,
    invite_and_open,
    open_and_land,
    refused_handshake,
    socket_headers,
    watching_logs,
)
from tests.handoff_support import (
    LiveHaven,
    agent_signs_in,
    chat_of,
    chat_socket,
    customer_tweets,
    hand_off,
    last_code,
    live_haven,
    new_x_user,
    open_link,
    post,
    receive,
    write_directory,
)
from tests.integration.web import console_client
from tests.oidc_support import OidcProvider, sign_in, start_oidc_provider
from tests.support import free_port

VISA = "4111 1111 1111 1111"
NOT_VALID = "This link is not valid"
USED = "This link has already been used"


def customer_record(x_user_id: str, n: int) -> dict[str, str]:
    return {
        "customer_id": f"C-{n}",
        "name": f"Customer {n}",
        "phone": phone_of(n),
        "x_user_id": x_user_id,
    }


def phone_of(n: int) -> str:
    return f"+4477009001{n:02d}"


@dataclass
class Bank:
    """A live Haven whose directory links three X users to bank customers, and a signed-in agent."""

    runtime: Runtime
    world: World
    haven: LiveHaven
    users: list[str]
    agent: httpx.AsyncClient

    async def conversation(self, n: int) -> int:
        """Customer ``n`` tweets at the bank; returns the conversation."""
        return await customer_tweets(self.runtime, self.world, x_user_id=self.users[n])

    def code_for(self, n: int) -> str:
        """The newest code on customer ``n``'s phone."""
        return last_code(self.haven, phone_of(n))

    async def send_code(self, customer: httpx.AsyncClient) -> None:
        sent = await csrf_post(customer, "/chat/verify/code/send")
        assert sent.status_code == 200, sent.text

    async def ask_for_form(self, conversation_id: int, fields: list[str]) -> int:
        page = f"/conversations/{conversation_id}"
        asked = await post(self.agent, f"{page}/chat/forms", {"fields": fields}, page=page)
        assert asked.status_code == 303, asked.text
        async with self.runtime.database.reader() as session:
            form_id = await session.scalar(
                select(func.max(SecureForm.id)).where(SecureForm.conversation_id == conversation_id)
            )
        assert form_id is not None
        return form_id


@pytest.fixture
async def bank(runtime: Runtime, world: World, tmp_path: Path) -> AsyncIterator[Bank]:
    users = [new_x_user() for _ in range(3)]
    directory = write_directory(
        tmp_path / "directory.json", [customer_record(u, n) for n, u in enumerate(users)]
    )
    async with backend_runtime(runtime) as backend, live_haven(backend, directory) as haven:
        agent = await agent_signs_in(haven, world.agent.email)
        try:
            yield Bank(backend, world, haven, users, agent)
        finally:
            await agent.aclose()


def assert_plain_page(response: httpx.Response, status_code: int, title: str) -> None:
    """A refusal page: the status, its title, and nothing of the machinery behind it."""
    assert response.status_code == status_code, response.text
    assert title in response.text, response.text
    assert response.headers["content-type"].startswith("text/html")
    for leak in ("Traceback", 'File "', "sqlalchemy", "Exception"):
        assert leak not in response.text


def assert_strict_headers(response: httpx.Response, *, hsts: bool = False) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    if hsts:
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert int(response.headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 31536000
    else:
        assert "strict-transport-security" not in response.headers


async def count(runtime: Runtime, model: type[Base], *where: ColumnElement[bool]) -> int:
    async with runtime.database.reader() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# -- invitation links --------------------------------------------------------------------------


async def test_a_bad_link_gets_a_plain_not_valid_page_and_leaves_the_real_one_working(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    conversation_id = await bank.conversation(0)
    with watching_logs(caplog) as logs:
        link = await hand_off(bank.haven, bank.agent, conversation_id)
        token = link.removeprefix("/chat/i/")
        tampered = token[:10] + ("B" if token[10] == "A" else "A") + token[11:]
        variants = {
            "one character changed": tampered,
            "truncated": token[:-1],
            "one character more": token + "A",
            "oversized (10 KB)": "A" * 10_240,
            "the token, then 10 KB": token + "A" * 10_000,
            "a plus sign": token[:-1] + "+",
            "a dot": token[:-1] + ".",
            "a space": token[:20] + "%20" + token[21:],
            "a slash": token[:20] + "/" + token[21:],
            "an encoded slash": token[:20] + "%2F" + token[21:],
            "a trailing path": token + "/verify",
            "a NUL byte": token[:-1] + "%00",
            "a non-ASCII letter": token[:-1] + "%C3%A9",
            "markup": quote("<script>alert(1)</script>"),
            "a quote and a backslash": quote("\"'\\") + token[3:],
            "unknown": secrets.token_urlsafe(32),
        }
        async with bank.haven.client() as stranger:
            for name, candidate in variants.items():
                response = await stranger.get(f"/chat/i/{candidate}")
                assert_plain_page(response, 404, NOT_VALID)
                assert token not in response.text and tampered not in response.text, name
                assert stranger.cookies.get("haven_invite") is None, name
        # None of that spent or locked the real link.
        customer = await open_link(bank.haven, link)
        await customer.aclose()
        log = logs.text()
    invitation = await invitation_of(bank.runtime, conversation_id)
    assert invitation.status is InvitationStatus.PENDING and invitation.failed_attempts == 0
    assert log.count("secure chat: refused a unknown invitation link") == len(variants)
    for secret in (token, token[:-1], tampered, token[:24], token[-24:]):
        assert secret not in log
    # uvicorn's access log saw every request, without the token in the path.
    assert "/chat/i/" in log
    assert token not in await audit_dump(bank.runtime)


async def test_used_expired_and_replaced_links_answer_410_and_leak_nothing(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, haven = bank.runtime, bank.haven
    first, second = await bank.conversation(0), await bank.conversation(1)
    with watching_logs(caplog) as logs:
        replaced = await hand_off(haven, bank.agent, first)
        current = await hand_off(haven, bank.agent, first)
        expiring = await hand_off(haven, bank.agent, second)
        async with haven.client() as stranger:
            assert_plain_page(await stranger.get(replaced), 410, "This link was replaced")

            customer = await open_and_land(haven, current)
            await bank.send_code(customer)
            entered = await csrf_post(customer, "/chat/verify/code", {"code": bank.code_for(0)})
            assert entered.status_code == 303 and entered.headers["location"] == "/chat"
            assert_plain_page(await stranger.get(current), 410, USED)

            # Opened in time, then left too long: the cookie is refused as well as the link.
            late = await open_and_land(haven, expiring)
            invitation = await invitation_of(runtime, second)
            await force_invitation(runtime, invitation.id, expires_at=utcnow() - timedelta(seconds=1))
            assert_plain_page(await stranger.get(expiring), 410, "This link has expired")
            assert_plain_page(await csrf_post(late, "/chat/verify/code/send"), 410, "This link has expired")
            assert haven.phone.messages(phone_of(1)) == []
            # The refusal also dropped the browser's invitation cookie.
            assert late.cookies.get("haven_invite") is None
            assert_plain_page(await late.get("/chat/verify"), 404, NOT_VALID)
            await late.aclose()
            await customer.aclose()
        log = logs.text()
    async with runtime.database.reader() as session:
        statuses = (await session.scalars(select(ChatInvitation.status).order_by(ChatInvitation.id))).all()
    assert statuses == [InvitationStatus.REPLACED, InvitationStatus.USED, InvitationStatus.PENDING]
    assert await count(runtime, Chat) == 1
    audit = await audit_dump(runtime)
    assert audit.count("handoff.invite") == 3
    for link in (replaced, current, expiring):
        token = link.removeprefix("/chat/i/")
        assert token not in log and token not in audit
    for problem in ("replaced", "used", "expired"):
        assert f"refused a {problem} invitation link" in log


async def test_opening_a_link_swaps_the_token_for_an_httponly_cookie_scoped_to_the_chat(bank: Bank) -> None:
    link = await hand_off(bank.haven, bank.agent, await bank.conversation(0))
    token = link.removeprefix("/chat/i/")
    async with bank.haven.client() as customer:
        opened = await customer.get(link)
        assert opened.status_code == 303
        assert opened.headers["location"] == "/chat/verify"
        cookie = SimpleCookie()
        cookie.load(opened.headers["set-cookie"])
        invite = cookie["haven_invite"]
        assert invite.value == token
        assert invite["httponly"] is True
        assert invite["path"] == "/chat"
        assert invite["samesite"].lower() == "lax"
        ttl = bank.runtime.settings.handoff_invitation_ttl_minutes * 60
        assert ttl - 60 < int(invite["max-age"]) <= ttl
        landing = await customer.get("/chat/verify")
        assert landing.status_code == 200
        assert token not in landing.text
        assert str(landing.url).endswith("/chat/verify")
        # The cookie goes nowhere but the chat's own pages.
        assert [c.path for c in customer.cookies.jar if c.name == "haven_invite"] == ["/chat"]


# -- one-time codes ----------------------------------------------------------------------------


async def test_wrong_codes_lock_the_invitation_and_then_even_the_right_code_fails(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await invite_and_open(haven, bank.agent, conversation_id)
    await bank.send_code(customer)
    right = bank.code_for(0)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    limit = runtime.settings.handoff_max_failed_attempts
    # Malformed guesses count like wrong ones: the form is no free oracle.
    guesses = [wrong, "abcdef", "12345", "1234567", f" {wrong[:3]} {wrong[3:]} "]
    guesses = (guesses * limit)[:limit]
    held_cookies = dict(customer.cookies.items())
    for attempt, guess in enumerate(guesses[:-1], start=1):
        refused = await csrf_post(customer, "/chat/verify/code", {"code": guess})
        assert_plain_page(refused, 422, "wrong code")
        assert f"({limit - attempt} attempts left)" in refused.text
        assert_strict_headers(refused)
    locked = await csrf_post(customer, "/chat/verify/code", {"code": guesses[-1]})
    assert_plain_page(locked, 423, "This link is locked")
    assert_strict_headers(locked)

    # The locked page dropped the browser's invitation cookie; whoever still holds it (or the link)
    # gets the locked page, the right code included.
    assert customer.cookies.get("haven_invite") is None
    assert_plain_page(await csrf_post(customer, "/chat/verify/code", {"code": right}), 404, NOT_VALID)
    async with browser_with(haven, held_cookies) as holder:
        assert_plain_page(await csrf_post(holder, "/chat/verify/code", {"code": right}), 423, "locked")
        assert_plain_page(await csrf_post(holder, "/chat/verify/code/send"), 423, "locked")
        assert_plain_page(await holder.get("/chat/verify"), 423, "locked")
        assert_plain_page(await holder.get(f"/chat/i/{held_cookies['haven_invite']}"), 423, "locked")
    invitation = await invitation_of(runtime, conversation_id)
    assert invitation.status is InvitationStatus.LOCKED
    assert invitation.failed_attempts == limit
    assert invitation.code_hmac is None
    assert await count(runtime, Chat) == 0
    assert len(haven.phone.messages(phone_of(0))) == 1
    audit = await audit_dump(runtime)
    assert audit.count("handoff.verify_failed") == limit
    assert "'locked': True" in audit and right not in audit
    await customer.aclose()


async def test_a_code_is_kept_as_an_hmac_bound_to_its_invitation_and_works_once(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    first, second = await bank.conversation(0), await bank.conversation(1)
    alice = await invite_and_open(haven, bank.agent, first)
    bob = await invite_and_open(haven, bank.agent, second)
    await bank.send_code(alice)
    await bank.send_code(bob)
    alices_code, bobs_code = bank.code_for(0), bank.code_for(1)
    if alices_code == bobs_code:  # one chance in a million: ask for another
        await bank.send_code(bob)
        bobs_code = bank.code_for(1)
    assert alices_code != bobs_code
    alices, bobs = await invitation_of(runtime, first), await invitation_of(runtime, second)
    for invitation, code in ((alices, alices_code), (bobs, bobs_code)):
        assert invitation.code_hmac is not None
        assert code not in invitation.code_hmac
        assert invitation.code_hmac != hashlib.sha256(code.encode()).hexdigest()
        assert invitation.code_hmac == runtime.cipher.mac(code, context=f"handoff.code:{invitation.id}")

    # Alice's code does not open Bob's invitation, not even with Alice's HMAC copied onto Bob's row.
    assert_plain_page(await csrf_post(bob, "/chat/verify/code", {"code": alices_code}), 422, "wrong code")
    await force_invitation(runtime, bobs.id, code_hmac=alices.code_hmac)
    assert_plain_page(await csrf_post(bob, "/chat/verify/code", {"code": alices_code}), 422, "wrong code")
    assert (await invitation_of(runtime, second)).failed_attempts == 2

    # Alice gets in once; the very same request, replayed with her cookies, is refused.
    replayed_cookies = dict(alice.cookies.items())
    entered = await csrf_post(alice, "/chat/verify/code", {"code": alices_code})
    assert entered.status_code == 303 and entered.headers["location"] == "/chat"
    async with browser_with(haven, replayed_cookies) as replay:
        assert_plain_page(await csrf_post(replay, "/chat/verify/code", {"code": alices_code}), 410, USED)
    # From her own browser, where the invitation cookie is gone, it is simply not valid.
    assert_plain_page(await csrf_post(alice, "/chat/verify/code", {"code": alices_code}), 404, NOT_VALID)
    assert (await invitation_of(runtime, first)).code_hmac is None
    assert await count(runtime, Chat, Chat.conversation_id == first) == 1
    assert await count(runtime, Chat, Chat.conversation_id == second) == 0
    await alice.aclose()
    await bob.aclose()


async def test_an_expired_code_is_refused_and_cleared(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await invite_and_open(haven, bank.agent, conversation_id)
    await bank.send_code(customer)
    code = bank.code_for(0)
    invitation = await invitation_of(runtime, conversation_id)
    await force_invitation(runtime, invitation.id, code_expires_at=utcnow() - timedelta(seconds=1))

    expired = await csrf_post(customer, "/chat/verify/code", {"code": code})
    assert_plain_page(expired, 422, "the code has expired; ask for a new one")
    again = await csrf_post(customer, "/chat/verify/code", {"code": code})
    assert_plain_page(again, 422, "no code has been sent yet")
    invitation = await invitation_of(runtime, conversation_id)
    assert invitation.code_hmac is None and invitation.status is InvitationStatus.PENDING
    assert await count(runtime, Chat) == 0

    # A new code works (and the old one is not it).
    await bank.send_code(customer)
    fresh = bank.code_for(0)
    if fresh != code:
        assert_plain_page(await csrf_post(customer, "/chat/verify/code", {"code": code}), 422, "wrong code")
    entered = await csrf_post(customer, "/chat/verify/code", {"code": fresh})
    assert entered.status_code == 303
    await customer.aclose()


async def test_no_more_codes_than_allowed_are_sent_for_one_invitation(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await invite_and_open(haven, bank.agent, conversation_id)
    allowed = runtime.settings.handoff_max_codes
    for _ in range(allowed):
        await bank.send_code(customer)
    refused = await csrf_post(customer, "/chat/verify/code/send")
    assert_plain_page(refused, 409, "no more codes can be sent for this link; ask the bank for a new one")
    assert len(haven.phone.messages(phone_of(0))) == allowed
    invitation = await invitation_of(runtime, conversation_id)
    assert invitation.codes_sent == allowed
    # The last code sent still works.
    entered = await csrf_post(customer, "/chat/verify/code", {"code": bank.code_for(0)})
    assert entered.status_code == 303
    await customer.aclose()


async def test_verification_requests_are_rate_limited_per_address(
    runtime: Runtime, world: World, tmp_path: Path
) -> None:
    limit = 4
    user = new_x_user()
    directory = write_directory(tmp_path / "directory.json", [customer_record(user, 0)])
    async with live_haven(runtime, directory, handoff_attempts_per_window=limit) as haven:
        agent = await agent_signs_in(haven, world.agent.email)
        conversation_id = await customer_tweets(runtime, world, x_user_id=user)
        customer = await invite_and_open(haven, agent, conversation_id)
        sent = await csrf_post(customer, "/chat/verify/code/send")
        assert sent.status_code == 200
        code = last_code(haven)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(limit - 1):
            assert (await csrf_post(customer, "/chat/verify/code", {"code": wrong})).status_code == 422
        for url, data in (
            ("/chat/verify/code", {"code": code}),
            ("/chat/verify/code/send", {}),
            ("/chat/verify/sign-in", {}),
        ):
            throttled = await csrf_post(customer, url, data)
            assert_plain_page(throttled, 429, "Too many attempts")
            assert_strict_headers(throttled)
        throttled = await customer.get("/chat/verify/callback", params={"state": "x", "code": "y"})
        assert_plain_page(throttled, 429, "Too many attempts")
        # Refused requests were not looked at: no attempt counted, the code not spent.
        invitation = await invitation_of(runtime, conversation_id)
        assert invitation.failed_attempts == limit - 1 and invitation.status is InvitationStatus.PENDING
        assert invitation.code_hmac is not None and len(haven.phone.messages()) == 1
        # The limit is per address: the same browser from another address is not held back.
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with browser_with(haven, dict(customer.cookies.items()), transport=transport) as elsewhere:
            entered = await csrf_post(elsewhere, "/chat/verify/code", {"code": code})
            assert entered.status_code == 303, entered.text
        await customer.aclose()
        await agent.aclose()


# -- CSRF ----------------------------------------------------------------------------------------


async def assert_forgeries_refused(client: httpx.AsyncClient, url: str, data: dict[str, str]) -> None:
    """The post, forged each way a foreign page could: every one gets 403."""
    own = str(client.base_url).rstrip("/")
    token = client.cookies.get("haven_csrf")
    assert token
    forgeries: list[tuple[dict[str, str], dict[str, str], str]] = [
        ({**data}, {"Origin": own}, "the form has expired"),
        ({**data, "csrf_token": "A" * len(token)}, {"Origin": own}, "the form has expired"),
        ({**data, "csrf_token": ""}, {"Origin": own}, "the form has expired"),
        ({**data, "csrf_token": token}, {"Origin": FOREIGN_ORIGIN}, "cross-site request refused"),
        ({**data, "csrf_token": token}, {"Origin": "null"}, "cross-site request refused"),
        ({**data, "csrf_token": token}, {"Referer": f"{FOREIGN_ORIGIN}/chat"}, "cross-site request refused"),
        ({**data, "csrf_token": token}, {}, "cross-site request refused"),
    ]
    for form, headers, reason in forgeries:
        response = await client.post(url, data=form, headers=headers)
        assert response.status_code == 403, (url, headers, response.text)
        assert reason in response.text


async def test_customer_posts_without_the_csrf_token_or_from_another_site_are_refused(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    first, second = await bank.conversation(0), await bank.conversation(1)
    in_chat = await enter_chat(haven, bank.agent, first)
    form_id = await bank.ask_for_form(first, ["card_last4"])
    verifying = await invite_and_open(haven, bank.agent, second)
    await bank.send_code(verifying)
    code = bank.code_for(1)

    await assert_forgeries_refused(verifying, "/chat/verify/code", {"code": code})
    await assert_forgeries_refused(in_chat, f"/chat/forms/{form_id}", {"card_last4": "4321"})
    invitation = await invitation_of(runtime, second)
    assert invitation.status is InvitationStatus.PENDING and invitation.failed_attempts == 0
    assert invitation.code_hmac is not None
    assert await count(runtime, SecureFormValue) == 0
    # The genuine posts go through.
    assert (await csrf_post(verifying, "/chat/verify/code", {"code": code})).status_code == 303
    assert (await csrf_post(in_chat, f"/chat/forms/{form_id}", {"card_last4": "4321"})).status_code == 200

    page = f"/conversations/{first}"
    assert (await post(bank.agent, f"{page}/chat/end", {}, page=page)).status_code == 303
    await assert_forgeries_refused(in_chat, "/chat/rating", {"score": "1"})
    async with runtime.database.reader() as session:
        assert (await session.get_one(Conversation, first)).csat_score is None
    assert (await csrf_post(in_chat, "/chat/rating", {"score": "5"})).status_code == 303
    await in_chat.aclose()
    await verifying.aclose()


# -- WebSockets ----------------------------------------------------------------------------------


async def test_sockets_from_another_site_or_without_credentials_are_refused(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    haven = bank.haven
    conversation_id = await bank.conversation(0)
    customer = await enter_chat(haven, bank.agent, conversation_id)
    chat = await chat_of(bank.runtime, conversation_id)
    customer_path, agent_path = f"/chat/ws?chat={chat.id}", f"/ws/chats/{chat.id}"
    with watching_logs(caplog) as logs:
        # The socket is refused before it opens: uvicorn answers the handshake with 403.
        for path, client in ((customer_path, customer), (agent_path, bank.agent)):
            for origin in (FOREIGN_ORIGIN, "null", f"{haven.url}.evil.example", None):
                headers = socket_headers(haven, client, origin)
                assert await refused_handshake(haven, path, headers) == 403, (path, origin)
        for path in (customer_path, agent_path):
            assert await refused_handshake(haven, path, socket_headers(haven, None, haven.url)) == 403
            forged = {
                "Cookie": f"{CHAT_COOKIE}={secrets.token_urlsafe(32)}; haven_session=x",
                "Origin": haven.url,
            }
            assert await refused_handshake(haven, path, forged) == 403
        # Nor can an agent open a chat that does not exist.
        missing = socket_headers(haven, bank.agent, haven.url)
        assert await refused_handshake(haven, f"/ws/chats/{chat.id + 1000}", missing) == 403
        log = logs.text()
    assert "refused a socket from a foreign origin" in log
    assert f"chat {chat.id}: refused an agent socket from a foreign origin" in log
    assert f"chat {chat.id + 1000}: refused an agent socket (not signed in or not this brand's chat)" in log
    # Nothing was lost: from the bank's own page both sockets open.
    async with (
        chat_socket(haven, customer, customer_path) as customer_ws,
        chat_socket(haven, bank.agent, agent_path) as agent_ws,
    ):
        assert (await receive(customer_ws, kind="hello"))["chat_id"] == chat.id
        assert (await receive(agent_ws, kind="hello"))["side"] == "agent"
    await customer.aclose()


async def test_a_customer_cannot_reach_another_customers_chat(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, haven = bank.runtime, bank.haven
    first, second = await bank.conversation(0), await bank.conversation(1)
    alice = await enter_chat(haven, bank.agent, first)
    bob = await enter_chat(haven, bank.agent, second)
    alices_chat, bobs_chat = await chat_of(runtime, first), await chat_of(runtime, second)
    bobs_form = await bank.ask_for_form(second, ["card_last4", "transaction_amount"])
    with watching_logs(caplog) as logs:
        for asked in (str(bobs_chat.id), f"{bobs_chat.id}x", "-1", "0" * 50):
            path = f"/chat/ws?chat={quote(asked)}"
            assert await refused_handshake(haven, path, socket_headers(haven, alice, haven.url)) == 403
        answers = {"card_last4": "1234", "transaction_amount": "10.00"}
        for form_id in (bobs_form, bobs_form + 1000):
            stolen = await csrf_post(alice, f"/chat/forms/{form_id}", answers)
            assert stolen.status_code == 404
            assert stolen.json() == {"detail": "there is no such form in this chat"}
        log = logs.text()
    assert f"chat {alices_chat.id}: the customer asked for chat '{bobs_chat.id}', which is not theirs" in log
    assert f"chat {alices_chat.id}: the customer tried form {bobs_form}, which is not theirs" in log
    assert await count(runtime, SecureFormValue) == 0
    async with runtime.database.reader() as session:
        assert (await session.get_one(SecureForm, bobs_form)).status is FormStatus.REQUESTED
    # Bob's form is still his to answer.
    assert (await csrf_post(bob, f"/chat/forms/{bobs_form}", answers)).status_code == 200
    await alice.aclose()
    await bob.aclose()


async def test_an_agent_of_another_brand_cannot_reach_this_brands_chat(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await enter_chat(haven, bank.agent, conversation_id)
    chat = await chat_of(runtime, conversation_id)
    form_id = await bank.ask_for_form(conversation_id, ["date_of_birth"])
    assert (
        await csrf_post(customer, f"/chat/forms/{form_id}", {"date_of_birth": "1980-01-02"})
    ).status_code == 200
    outsider = await agent_signs_in(haven, bank.world.outsider.email)

    headers = socket_headers(haven, outsider, haven.url)
    assert await refused_handshake(haven, f"/ws/chats/{chat.id}", headers) == 403
    page = f"/conversations/{conversation_id}"
    for url, data in (
        (f"{page}/chat/forms", {"fields": ["card_last4"]}),
        (f"{page}/chat/end", {}),
        (f"{page}/forms/{form_id}/reveal", {}),
        (f"{page}/handoff", {}),
    ):
        refused = await csrf_post(outsider, url, data)
        assert_plain_page(refused, 404, "conversation not found")
    for url in (page, f"{page}/timeline", f"{page}/forms"):
        assert (await outsider.get(url)).status_code == 404
    async with runtime.database.reader() as session:
        assert (await session.get_one(Chat, chat.id)).status is ChatStatus.LIVE
    assert await count(runtime, SecureForm) == 1
    assert await count(runtime, ChatInvitation) == 1
    assert await count(runtime, AuditEntry, AuditEntry.action.like("secure_form.reveal%")) == 0
    await outsider.aclose()
    await customer.aclose()


# -- hostile chat input --------------------------------------------------------------------------


async def send_and_receive(socket: websockets.ClientConnection, frame: str | bytes) -> dict[str, object]:
    await socket.send(frame)
    return await receive(socket)


async def test_hostile_frames_get_error_frames_and_the_socket_stays_usable(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await enter_chat(haven, bank.agent, conversation_id)
    chat = await chat_of(runtime, conversation_id)

    def message(text: object, client_id: object = "c") -> str:
        return json.dumps({"type": "message", "text": text, "client_id": client_id})

    refusals: list[tuple[str | bytes, str]] = [
        (message("x" * 4001, "long"), "the message is longer than 4000 characters"),
        ("not json", "not a JSON message"),
        ('{"type": "message", "text": "unterminated', "not a JSON message"),
        (b"\xff\xfe\x00 not text", "not a JSON message"),
        ('["message", "hi"]', "not a JSON object"),
        ('"message"', "not a JSON object"),
        ("null", "not a JSON object"),
        ('{"type": "shout", "text": "hi", "client_id": "c"}', "unknown message type"),
        ('{"text": "hi", "client_id": "c"}', "unknown message type"),
        ('{"type": "message", "text": "hi"}', "a message needs a text and a client_id"),
        (message("hi", ""), "a message needs a text and a client_id"),
        (message("hi", "../../etc"), "a message needs a text and a client_id"),
        (message("hi", "a b"), "a message needs a text and a client_id"),
        (message("hi", "x" * 65), "a message needs a text and a client_id"),
        (message("hi", 7), "a message needs a text and a client_id"),
        (message(["hi"]), "a message needs a text and a client_id"),
        (message("ring \u0007 the bell"), "the text contains control characters"),
        (message("nul \u0000 byte"), "the text contains control characters"),
        (message("\u001b[2J\u001b[31mfake system notice"), "the text contains control characters"),
        (message("   \n\t  "), "the message is empty"),
    ]
    async with chat_socket(haven, customer, "/chat/ws") as socket:
        await receive(socket, kind="hello")
        for frame, detail in refusals:
            reply = await send_and_receive(socket, frame)
            assert reply["type"] == "error" and reply["detail"] == detail, (frame[:60], reply)
        longest = await send_and_receive(socket, message("y" * 4000, "longest"))
        assert longest["type"] == "event" and longest["client_id"] == "longest"
        still = await send_and_receive(socket, message("still here", "ok"))
        assert still["type"] == "event" and still["text"] == "still here"
    assert await chat_texts(runtime, chat.id) == ["y" * 4000, "still here"]

    # A burst: the socket answers "slow down" beyond its allowance; nothing refused is stored, and
    # the client can send it again once it has slowed down. The allowance refills while the server
    # stores messages, so the burst is large enough to exceed it even on a slow machine.
    burst = 5 * MESSAGE_BURST
    seen = (await chat_of(runtime, conversation_id)).last_seq
    async with chat_socket(haven, customer, f"/chat/ws?after={seen}") as socket:
        await receive(socket, kind="hello")
        for n in range(burst):
            await socket.send(message(f"burst {n}", f"b{n}"))
        replies = [await receive(socket) for _ in range(burst)]
        stored = {r["client_id"] for r in replies if r["type"] == "event"}
        slowed = {r["client_id"] for r in replies if r["type"] == "error"}
        assert slowed, "a burst of twice the allowance was not slowed down"
        assert len(stored) >= MESSAGE_BURST
        assert stored | slowed == {f"b{n}" for n in range(burst)} and not stored & slowed
        assert {r["detail"] for r in replies if r["type"] == "error"} == {"too many messages; slow down"}
        texts = await chat_texts(runtime, chat.id)
        assert sorted(t for t in texts if t.startswith("burst")) == sorted(f"burst {c[1:]}" for c in stored)
        await asyncio.sleep(1.0)
        retry = sorted(slowed)[0]
        resent = await send_and_receive(socket, message(f"burst {retry[1:]}", retry))
        assert resent["type"] == "event" and resent["client_id"] == retry

        # A frame over the limit closes the socket (1009) before it is even parsed.
        oversized = message("z" * MAX_FRAME, "big")
        assert len(oversized) > MAX_FRAME
        await socket.send(oversized)
        assert (await receive(socket, kind="error"))["detail"] == "the message is too large"
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await receive(socket)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert not any(t.startswith("z") for t in await chat_texts(runtime, chat.id))
    await customer.aclose()


async def test_markup_is_stored_verbatim_and_escaped_for_the_agent_and_card_numbers_are_cut(
    bank: Bank,
) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await enter_chat(haven, bank.agent, conversation_id)
    chat = await chat_of(runtime, conversation_id)
    script = "<script>alert(document.cookie)</script>"
    image = "<img src=x onerror=alert(1)>"
    cards = [f"my card is {VISA} please check", "card 4111111111111111.", "or 4111-1111-1111-1111?"]
    async with chat_socket(haven, customer, "/chat/ws") as socket:
        echoes = []
        for n, text in enumerate([script, image, *cards]):
            await socket.send(json.dumps({"type": "message", "text": text, "client_id": f"m{n}"}))
            echoes.append((await receive(socket))["text"])
    redacted = ["my card is •••• 1111 please check", "card •••• 1111.", "or •••• 1111?"]
    assert echoes == [script, image, *redacted]
    assert await chat_texts(runtime, chat.id) == [script, image, *redacted]

    timeline = await bank.agent.get(f"/conversations/{conversation_id}/timeline")
    assert timeline.status_code == 200
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in timeline.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in timeline.text
    assert "<script" not in timeline.text and "<img" not in timeline.text
    conversation_page = (await bank.agent.get(f"/conversations/{conversation_id}")).text
    assert script not in conversation_page and image not in conversation_page

    async with runtime.database.reader() as session:
        texts = (await session.scalars(select(Message.text))).all()
        previews = (await session.scalars(select(Conversation.preview))).all()
    for stored in [*texts, *previews]:
        for number in ("4111111111111111", VISA, "4111-1111-1111-1111"):
            assert number not in stored
    await customer.aclose()


# -- secure forms --------------------------------------------------------------------------------


async def test_invalid_form_answers_are_refused_without_echo_and_stored_values_are_bound_ciphertext(
    bank: Bank,
) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await enter_chat(haven, bank.agent, conversation_id)
    form_id = await bank.ask_for_form(conversation_id, ["date_of_birth", "card_last4"])
    url = f"/chat/forms/{form_id}"
    invalid = [
        ({"date_of_birth": "31/02/1990", "card_last4": "4321"}, "Date of birth: this date does not exist"),
        (
            {"date_of_birth": "<b>1990</b>", "card_last4": "4321"},
            "enter the date as YYYY-MM-DD or DD/MM/YYYY",
        ),
        ({"date_of_birth": "1990-05-17", "card_last4": "43a1"}, "enter the last four digits of your card"),
        ({"date_of_birth": "1990-05-17", "card_last4": "98765432"}, "enter only the last four digits"),
        ({"date_of_birth": "1990-05-17"}, "this field is required"),
        ({"date_of_birth": "1990-05-17", "card_last4": "1" * 5000}, "this answer is too long"),
    ]
    for answers, reason in invalid:
        refused = await csrf_post(customer, url, answers)
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert reason in detail
        for value in answers.values():
            if value not in ("1990-05-17", "4321"):
                assert value not in detail and value[:4] not in detail
    assert await count(runtime, SecureFormValue) == 0
    async with runtime.database.reader() as session:
        assert (await session.get_one(SecureForm, form_id)).status is FormStatus.REQUESTED

    answered = await csrf_post(customer, url, {"date_of_birth": "17/05/1990", "card_last4": "4321"})
    assert answered.status_code == 200 and answered.json() == {"status": "sent"}
    twice = await csrf_post(customer, url, {"date_of_birth": "01/01/1970", "card_last4": "0000"})
    assert twice.status_code == 409 and twice.json() == {"detail": "this form has already been sent"}

    async with runtime.database.reader() as session:
        values = {v.field: v for v in (await session.scalars(select(SecureFormValue))).all()}
    assert set(values) == {"date_of_birth", "card_last4"}
    assert values["date_of_birth"].masked == "••••-••-••" and values["card_last4"].masked == "•• 21"
    for field, clear in (("date_of_birth", "1990-05-17"), ("card_last4", "4321")):
        stored = values[field].value_encrypted
        assert clear not in stored and "1990" not in stored
        assert runtime.cipher.decrypt(stored, context=f"secure_form_value:{form_id}:{field}") == clear

    # A ciphertext copied onto another field's row does not decrypt there.
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(SecureFormValue)
            .where(SecureFormValue.id == values["card_last4"].id)
            .values(value_encrypted=values["date_of_birth"].value_encrypted)
        )
    async with runtime.database.reader() as session:
        moved = await session.get_one(SecureFormValue, values["card_last4"].id)
    with pytest.raises(DecryptionError):
        runtime.cipher.decrypt(moved.value_encrypted, context=f"secure_form_value:{form_id}:card_last4")
    await customer.aclose()


# -- the end of the chat -------------------------------------------------------------------------


async def test_after_the_end_messages_are_refused_and_the_rating_is_checked(bank: Bank) -> None:
    runtime, haven = bank.runtime, bank.haven
    conversation_id = await bank.conversation(0)
    customer = await enter_chat(haven, bank.agent, conversation_id)
    chat = await chat_of(runtime, conversation_id)

    early = await csrf_post(customer, "/chat/rating", {"score": "5"})
    assert_plain_page(early, 409, "the chat can be rated once it has ended")
    async with chat_socket(haven, customer, "/chat/ws") as socket:
        page = f"/conversations/{conversation_id}"
        assert (await post(bank.agent, f"{page}/chat/end", {}, page=page)).status_code == 303
        assert (await receive(socket))["kind"] == "ended"
        reply = await send_and_receive(
            socket, json.dumps({"type": "message", "text": "one more thing", "client_id": "late"})
        )
        assert reply == {"type": "error", "detail": "the chat has ended", "client_id": "late"}
    assert await chat_texts(runtime, chat.id) == []

    for score in ("0", "6", "-1", "five", "4.5", ""):
        refused = await csrf_post(customer, "/chat/rating", {"score": score})
        assert_plain_page(refused, 422, "The form was not filled in correctly.")
    async with runtime.database.reader() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        assert conversation.csat_score is None and conversation.csat_at is None
    rated = await csrf_post(customer, "/chat/rating", {"score": "5", "comment": f"card {VISA}"})
    assert rated.status_code == 303
    async with runtime.database.reader() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        assert (conversation.csat_score, conversation.csat_comment) == (5, "card •••• 1111")
    await customer.aclose()


# -- headers -------------------------------------------------------------------------------------


async def test_customer_pages_send_strict_security_headers(bank: Bank, runtime: Runtime) -> None:
    haven = bank.haven
    conversation_id = await bank.conversation(0)
    customer = await invite_and_open(haven, bank.agent, conversation_id)
    async with haven.client() as stranger:
        pages = [
            await customer.get("/chat/verify"),
            await stranger.get("/chat/i/not-a-token"),
            await stranger.get("/chat/verify"),
            await stranger.get("/chat"),
        ]
    await bank.send_code(customer)
    pages.append(await csrf_post(customer, "/chat/verify/code", {"code": "000000x"}))
    assert (await csrf_post(customer, "/chat/verify/code", {"code": bank.code_for(0)})).status_code == 303
    pages.append(await customer.get("/chat"))
    assert [p.status_code for p in pages] == [200, 404, 404, 404, 422, 200]
    for page in pages:
        assert_strict_headers(page)
    await customer.aclose()

    async with console_client(runtime, public_base_url="https://bank.example") as client:
        for url in ("/chat/i/not-a-token", "/chat/verify", "/chat"):
            response = await client.get(url)
            assert response.status_code == 404
            assert_strict_headers(response, hsts=True)


# -- the bank's sign-in (OpenID Connect) ---------------------------------------------------------


@pytest.fixture(scope="module")
def oidc_port() -> int:
    """Haven's port in the OpenID tests: the provider must know the redirect URI before Haven starts."""
    return free_port()


@pytest.fixture(scope="module")
def provider(oidc_port: int) -> Iterator[OidcProvider]:
    with start_oidc_provider([f"http://127.0.0.1:{oidc_port}/chat/verify/callback"]) as running:
        yield running


@dataclass
class OidcBank:
    runtime: Runtime
    haven: LiveHaven
    agent: httpx.AsyncClient
    #: Alice's X account: the directory links it to the subject "alice".
    alice: str
    callback: str


@pytest.fixture
async def oidc_bank(
    runtime: Runtime, world: World, tmp_path: Path, provider: OidcProvider, oidc_port: int
) -> AsyncIterator[OidcBank]:
    alice, mallory = new_x_user(), new_x_user()
    directory = write_directory(
        tmp_path / "directory.json",
        [
            {"customer_id": "C-alice", "name": "Alice", "x_user_id": alice, "oidc_subject": "alice"},
            # Mallory banks here too, linked to her own X account.
            {"customer_id": "C-mallory", "name": "Mallory", "x_user_id": mallory, "oidc_subject": "mallory"},
        ],
    )
    async with live_haven(
        runtime,
        directory,
        port=oidc_port,
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=SecretStr(provider.client_secret),
    ) as haven:
        agent = await agent_signs_in(haven, world.agent.email)
        try:
            yield OidcBank(runtime, haven, agent, alice, f"{haven.url}/chat/verify/callback")
        finally:
            await agent.aclose()
    _ = world


async def begin_sign_in(bank: OidcBank, customer: httpx.AsyncClient) -> str:
    started = await csrf_post(customer, "/chat/verify/sign-in")
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert parse_qs(urlsplit(location).query)["redirect_uri"] == [bank.callback]
    return location


async def test_a_customer_signs_in_with_the_bank_and_the_callback_cannot_be_replayed(
    oidc_bank: OidcBank, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    bank = oidc_bank
    conversation_id = await customer_tweets(bank.runtime, world, x_user_id=bank.alice)
    customer = await invite_and_open(bank.haven, bank.agent, conversation_id)
    assert 'id="sign-in"' in (await customer.get("/chat/verify")).text
    params = await sign_in(await begin_sign_in(bank, customer), bank.callback, login="alice")
    stolen_cookies = dict(customer.cookies.items())

    with watching_logs(caplog) as logs:
        entered = await customer.get("/chat/verify/callback", params=params)
    assert "GET /chat/verify/callback" in logs.text()
    assert params["code"] not in logs.text() and params["state"] not in logs.text()
    assert entered.status_code == 303 and entered.headers["location"] == "/chat"
    room = await customer.get("/chat")
    assert room.status_code == 200 and 'data-chat-id="' in room.text
    chat = await chat_of(bank.runtime, conversation_id)
    assert chat.verified_by is VerificationMethod.OPENID_CONNECT and chat.directory_customer_id == "C-alice"

    # The same callback again: with the invitation cookie the link is spent, without it unknown.
    async with browser_with(bank.haven, stolen_cookies) as replay:
        assert_plain_page(await replay.get("/chat/verify/callback", params=params), 410, USED)
    assert_plain_page(await customer.get("/chat/verify/callback", params=params), 404, NOT_VALID)
    assert await count(bank.runtime, Chat) == 1
    await customer.aclose()


async def test_the_wrong_person_or_a_tampered_callback_is_refused_and_counted(
    oidc_bank: OidcBank, world: World
) -> None:
    bank = oidc_bank
    conversation_id = await customer_tweets(bank.runtime, world, x_user_id=bank.alice)
    customer = await invite_and_open(bank.haven, bank.agent, conversation_id)

    # Mallory, a real customer of the bank, opens Alice's link and signs in as herself.
    params = await sign_in(await begin_sign_in(bank, customer), bank.callback, login="mallory")
    refused = await customer.get("/chat/verify/callback", params=params)
    assert_plain_page(refused, 422, "the signed-in customer is not the one invited")
    assert (await invitation_of(bank.runtime, conversation_id)).failed_attempts == 1

    # Alice signs in, but the callback's state was changed on the way.
    params = await sign_in(await begin_sign_in(bank, customer), bank.callback, login="alice")
    tampered = await customer.get("/chat/verify/callback", params={**params, "state": params["state"] + "x"})
    assert_plain_page(tampered, 422, "state mismatch")
    # The refused attempt is spent: its genuine callback no longer works either.
    spent = await customer.get("/chat/verify/callback", params=params)
    assert_plain_page(spent, 422, "no sign-in was started")
    invitation = await invitation_of(bank.runtime, conversation_id)
    assert invitation.failed_attempts == 3 and invitation.status is InvitationStatus.PENDING
    assert invitation.oidc_pending_encrypted is None
    assert await count(bank.runtime, Chat) == 0
    audit = await audit_dump(bank.runtime)
    assert audit.count("handoff.verify_failed") == 3 and params["code"] not in audit

    # An honest sign-in still gets Alice in.
    params = await sign_in(await begin_sign_in(bank, customer), bank.callback, login="alice")
    entered = await customer.get("/chat/verify/callback", params=params)
    assert entered.status_code == 303 and entered.headers["location"] == "/chat"
    await customer.aclose()


# -- any text as a token -------------------------------------------------------------------------


@pytest.fixture
async def real_token(runtime: Runtime, world: World) -> str:
    """A pending invitation exists, so a lookup has something it could wrongly find."""
    conversation_id = await customer_tweets(runtime, world, x_user_id=new_x_user())
    async with runtime.database.unit_of_work() as session:
        agent = await session.get_one(Agent, world.agent.id)
        conversation = await session.get_one(Conversation, conversation_id)
        sent = await invite(session, Actor.of(agent, via="console"), conversation, runtime.settings)
    token = sent.link.rsplit("/", 1)[1]
    async with runtime.database.reader() as session:
        found = await invitation_for_token(session, token)
    assert isinstance(found, ChatInvitation)
    return token


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=40, max_size=50),
        st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9_-]{40,46}\n?", fullmatch=True),
    )
)
async def test_any_other_text_opens_no_invitation(runtime: Runtime, real_token: str, text: str) -> None:
    if text == real_token:
        return
    async with runtime.database.reader() as session:
        assert await invitation_for_token(session, text) is LinkProblem.UNKNOWN
