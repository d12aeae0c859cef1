"""Triage in Chromium: an agent filters the inbox by priority, opens a P1, sees why it is urgent and
the private-data warning, picks the ready reply; a colleague's page shows who else is there.

Haven runs in this process on a real socket, on the test database; the conversations come from the
real inbound pipeline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from haven.app import create_app
from haven.runtime import Runtime
from tests.factories import (
    PASSWORD,
    World,
    another_agent,
    inbound_conversation,
    make_world,
    response_template,
)
from tests.support import serving

HOSTILE = '<img src=x onerror=alert("pwned")>'
LEAK = f"@ExampleBankHelp my card 4111 1111 1111 1111 keeps getting declined {HOSTILE}"
CALM = "@ExampleBankHelp how long does a transfer to another bank usually take?"
DELETE_POST = "Hi {customer_handle}, please delete your post: it shows your card number."
LIVE = 10_000
SCREENSHOTS = Path("test-results")


@pytest.fixture
async def world(runtime: Runtime, empty_database: None) -> World:
    return await make_world(runtime)


@pytest.fixture
async def haven_url(runtime: Runtime) -> AsyncIterator[str]:
    async with serving(create_app(runtime=runtime)) as url:
        yield url


async def _signed_in(browser: Browser, url: str, email: str, dialogs: list[str]) -> Page:
    page = await (await browser.new_context()).new_page()

    async def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", record)
    await page.goto(f"{url}/login")
    await page.fill("#login-email", email)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{url}/inbox")
    return page


async def test_an_agent_finds_the_p1_sees_why_and_picks_the_ready_reply(
    runtime: Runtime, world: World, haven_url: str, browser: Browser
) -> None:
    leak = await inbound_conversation(runtime, world, text=LEAK, username="card_leaker")
    calm = await inbound_conversation(runtime, world, text=CALM, username="calm_customer")
    await response_template(
        runtime, world.brand.id, "Please delete your post", DELETE_POST, for_private_data=True
    )
    dialogs: list[str] = []
    console = await _signed_in(browser, haven_url, world.agent.email, dialogs)
    await expect(console.locator(f'.inbox-row[data-conversation-id="{calm}"]')).to_be_visible()

    await console.select_option("#filter-priority", "1")  # the form applies itself on change
    await expect(console).to_have_url(f"{haven_url}/inbox?view=open&sort=urgent&priority=1")
    await expect(console.locator(f'.inbox-row[data-conversation-id="{calm}"]')).to_have_count(0)
    row = console.locator(f'.inbox-row[data-conversation-id="{leak}"]')
    await expect(row.locator(".priority-badge")).to_have_text("P1")
    await expect(row.locator(".flag.private-data")).to_be_visible()
    await expect(row.locator(".sla-time")).to_contain_text("left")
    SCREENSHOTS.mkdir(exist_ok=True)
    await console.screenshot(path=SCREENSHOTS / "console-triage-inbox.png", full_page=True)

    await row.locator("a").click()
    await expect(console.locator("#priority-reasons")).to_contain_text("Private data in a public post")
    await expect(console.locator("#private-data-warning")).to_contain_text(
        "The customer exposed a card number in public — the text is masked; advise them to delete the post."
    )
    await expect(console.locator(".message.inbound .text")).not_to_contain_text("4111 1111 1111 1111")
    await expect(console.locator(".message.inbound .text")).to_contain_text(HOSTILE)
    await console.locator(".template-pick").first.click()
    await expect(console.locator("#reply-text")).to_have_value(
        "Hi @card_leaker, please delete your post: it shows your card number."
    )
    await console.check("#visibility-public")
    await expect(console.locator("#reply-count")).to_have_text("68 / 280")
    await console.screenshot(path=SCREENSHOTS / "console-triage-conversation.png", full_page=True)
    assert dialogs == [], "a tweet's markup ran as script"


async def test_colleagues_see_who_is_viewing_and_typing(
    runtime: Runtime, world: World, haven_url: str, browser: Browser
) -> None:
    leak = await inbound_conversation(runtime, world, text=LEAK, username="card_leaker")
    bea = await another_agent(runtime, world, "Bea Agent")
    dialogs: list[str] = []
    alex = await _signed_in(browser, haven_url, world.agent.email, dialogs)
    await alex.goto(f"{haven_url}/conversations/{leak}")
    await expect(alex.locator("#live-status.up")).to_be_visible()
    await expect(alex.locator("#presence")).to_be_hidden()

    colleague = await _signed_in(browser, haven_url, bea.email, dialogs)
    await colleague.goto(f"{haven_url}/conversations/{leak}")
    await expect(alex.locator("#presence")).to_have_text("Bea Agent is viewing", timeout=LIVE)
    # The newcomer learns at once who was already there.
    await expect(colleague.locator("#presence")).to_have_text("Alex Agent is viewing", timeout=LIVE)

    await colleague.locator("#reply-text").press_sequentially("On it")
    await expect(alex.locator("#presence")).to_have_text("Bea Agent is typing…", timeout=LIVE)
    SCREENSHOTS.mkdir(exist_ok=True)
    await alex.screenshot(path=SCREENSHOTS / "console-presence.png")
    await colleague.goto(f"{haven_url}/inbox")
    await expect(alex.locator("#presence")).to_be_hidden(timeout=LIVE)
    assert dialogs == []
