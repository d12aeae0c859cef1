"""The secure handoff played in Chromium, as in the demo: from a public tweet to a verified private chat.

A scenario customer tweets at the bank on xsim's customer page; an agent moves the conversation to
the secure chat; the customer opens the link X shows them, proves who they are (a one-time code from
the demo phone, or the bank's own sign-in), and the two chat, exchange a secure form and rate it.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from playwright.async_api import Browser, BrowserContext, Dialog, Page, expect

from tests.browser.console_support import take_conversation
from tests.e2e.conftest import Stack

BRAND = "@ExampleBankHelp"
#: Long enough for the stack's ingest, delivery and page polling on a loaded CI machine.
LIVE = 15_000


def _no_dialogs(page: Page, seen: list[str]) -> None:
    """A dialog would mean some text ran as script: note it (the test fails on it) and close it."""

    async def record(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", record)


def _phone_of(stack: Stack, username: str) -> str:
    directory = json.loads(stack.directory_file.read_text())
    return str(next(c["phone"] for c in directory["customers"] if c.get("oidc_subject") == username))


async def _customer_tweets(context: BrowserContext, stack: Stack, username: str, text: str) -> Page:
    """The customer picks themselves on xsim's customer page and tweets at the bank."""
    page = await context.new_page()
    await page.goto(stack.xsim_url)
    await page.select_option("#user-select", username)  # the page switches user on change
    await expect(page).to_have_url(f"{stack.xsim_url}/?user={username}")
    await expect(page.locator("#compose-text")).to_have_value(f"{BRAND} ")
    await page.fill("#compose-text", f"{BRAND} {text}")
    await page.click("#compose-send")
    await expect(page.locator(f'.tweet[data-author="{username}"]', has_text=text)).to_be_visible()
    return page


async def _agent_opens_conversation(browser: Browser, stack: Stack, marker: str, dialogs: list[str]) -> Page:
    agent = stack.demo.agents[0]
    console = await (await browser.new_context()).new_page()
    _no_dialogs(console, dialogs)
    await console.goto(f"{stack.haven_url}/login")
    await console.fill("#login-email", agent.email)
    await console.fill("#login-password", agent.password)
    await console.click("#login-submit")
    await expect(console).to_have_url(f"{stack.haven_url}/inbox")
    row = console.locator(".inbox-row", has_text=marker)
    await expect(row).to_be_visible(timeout=LIVE)
    await row.locator("a").click()
    await expect(console.locator(".message.inbound .text", has_text=marker)).to_be_visible()
    await take_conversation(console)
    return console


async def _agent_hands_off(console: Page) -> None:
    await console.click("#hand-off")
    await expect(console.locator("#invitation-status")).to_contain_text("invitation sent")
    link_message = console.locator(".message.outbound", has_text="/chat/i/")
    await expect(link_message.locator(".delivery-status")).to_contain_text("sent", timeout=LIVE)


async def _customer_opens_link(context: BrowserContext, xsim_page: Page, stack: Stack) -> Page:
    """The bank's answer (a reply under the tweet, or a DM) shows the link; it opens in a new tab."""
    link = xsim_page.locator('.from-brand a[href*="/chat/i/"]')
    await expect(link).to_have_count(1, timeout=LIVE)
    async with context.expect_page() as opened:
        await link.click()
    page = await opened.value
    await expect(page).to_have_url(f"{stack.haven_url}/chat/verify")
    return page


async def _agent_sees_chat_live(console: Page) -> None:
    """The customer joined: the timeline's system note arrives live.

    The console refreshes only the timeline live, not the handoff panel and chat composer, so the
    agent reloads the page once they see the note, as a person would.
    """
    note = console.locator(".message", has_text="joined the secure chat")
    await expect(note).to_be_visible(timeout=LIVE)
    if not await console.locator("#chat-text").is_visible():
        await console.reload()
    await expect(console.locator("#chat-status")).to_contain_text("Secure chat live")


async def test_demo_journey_from_a_tweet_to_a_verified_chat_a_secure_form_and_a_rating(
    stack: Stack, browser: Browser
) -> None:
    dialogs: list[str] = []
    username = "maria_r"
    marker = uuid.uuid4().hex[:8]
    hostile = "<img src=x onerror=alert(1)>"

    customer = await browser.new_context()
    xsim_page = await _customer_tweets(
        customer, stack, username, f"there's a payment on my card I don't recognise, is this fraud? {marker}"
    )
    _no_dialogs(xsim_page, dialogs)

    console = await _agent_opens_conversation(browser, stack, marker, dialogs)
    await _agent_hands_off(console)

    chat = await _customer_opens_link(customer, xsim_page, stack)
    _no_dialogs(chat, dialogs)
    await expect(chat.locator("#genuine")).to_contain_text(stack.haven_url.split("://")[1])
    await chat.click("#send-code")
    phone = _phone_of(stack, username)
    await expect(chat.locator("#code-destination")).to_contain_text(phone[-4:])

    # The code arrives on the demo phone (a page of its own in the customer's browser).
    handset = await customer.new_page()
    await handset.goto(f"{stack.haven_url}/demo/phone")
    sms = handset.locator(".phone-message", has_text=f"To {phone}").first
    await expect(sms).to_contain_text("Your secure chat code is")
    found = re.search(r"code is (\d{6})", await sms.locator(".text").inner_text())
    assert found is not None
    await handset.close()

    await chat.fill("#code", found.group(1))
    async with chat.expect_response(f"{stack.haven_url}/chat") as room_response:
        await chat.click("#check-code")
    room = await room_response.value
    assert room.status == 200
    csp = room.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"], "inline or eval'd script would be allowed"
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in csp
    await expect(chat).to_have_url(f"{stack.haven_url}/chat")
    await expect(chat.locator("#chat-connection.up")).to_be_visible()

    await _agent_sees_chat_live(console)

    # Both ways, with the typing indicator while the customer types. She types at a person's pace:
    # the page says "typing" at most every 2 s, and the agent's chat socket may still be connecting
    # after the reload (a typing notice is not replayed, unlike messages).
    from_customer = "Hi, it's Maria. The payment was 42.50 yesterday"
    await expect(console.locator("#chat-typing")).to_be_hidden()
    typing = asyncio.create_task(chat.locator("#chat-text").press_sequentially(from_customer, delay=100))
    await expect(console.locator("#chat-typing")).to_be_visible(timeout=LIVE)
    await expect(console.locator("#chat-typing")).to_have_text("The customer is typing…")
    await typing
    await chat.click("#chat-send")
    await expect(chat.locator("#chat-log .message.outbound .text")).to_have_text([from_customer])
    await expect(console.locator(".message.inbound .text", has_text=from_customer)).to_be_visible()

    from_agent = "Thanks Maria, I can see it. Let's check the card it was made with."
    await console.fill("#chat-text", from_agent)
    await console.click("#chat-send")
    await expect(chat.locator("#chat-log .message.inbound .text")).to_have_text([from_agent])
    await expect(console.locator(".message.outbound .text", has_text=from_agent)).to_be_visible()

    # Markup from the customer is text on both sides; nothing runs.
    await chat.fill("#chat-text", hostile)
    await chat.press("#chat-text", "Enter")
    await expect(chat.locator("#chat-log .message.outbound .text").last).to_have_text(hostile)
    await expect(console.locator(".message.inbound .text").last).to_have_text(hostile)
    await expect(chat.locator("#chat-log img")).to_have_count(0)
    await expect(console.locator("#timeline img")).to_have_count(0)

    # A secure form: the customer types a full card number, the agent sees two masked digits.
    await console.check("#ask-card_last4")
    await console.check("#ask-transaction_amount")
    await console.click("#ask-form")
    await expect(console.locator("#secure-forms .secure-form")).to_contain_text("Waiting for the customer")
    card = chat.locator('#chat-log input[name="card_last4"]')
    await expect(card).to_be_visible()
    await card.fill("4111 1111 1111 1111")
    await chat.locator('#chat-log input[name="transaction_amount"]').fill("42.50")
    await chat.locator('#chat-log button[id^="form-send-"]').click()
    await expect(chat.locator("#chat-log .form-sent")).to_have_text("Sent securely ✓")
    masked = console.locator('#secure-forms .secure-value[data-field="card_last4"]')
    await expect(masked).to_have_text("•• 11", timeout=LIVE)
    await expect(
        console.locator('#secure-forms .secure-value[data-field="transaction_amount"]')
    ).to_contain_text("42.50")
    for shown in (console.locator("body"), chat.locator("body")):
        await expect(shown).not_to_contain_text("4111")

    # The agent ends the chat; the customer rates it; the agent sees the rating.
    await console.click("#chat-end")
    await expect(console.locator("#chat-composer")).to_have_count(0)
    await expect(chat.locator("#chat-ended")).to_be_visible()
    await expect(chat.locator("#chat-composer")).to_be_hidden()
    await chat.check("#score-5")
    await chat.fill("#rating-comment", "Quick and <b>safe</b>, thank you")
    await chat.click("#rating-send")
    await expect(chat.locator("#rating-thanks")).to_be_visible()
    await expect(chat.locator("#rating-form")).to_be_hidden()
    csat = console.locator("#csat")
    if not await csat.is_visible():  # the rating is not pushed to the console live: the agent reloads
        await console.reload()
    await expect(csat).to_have_text("Customer rating: 5/5 — “Quick and <b>safe</b>, thank you”")

    assert dialogs == [], "a message's markup ran as script"


async def test_a_customer_signs_in_with_the_bank_instead_of_a_code(stack: Stack, browser: Browser) -> None:
    dialogs: list[str] = []
    username = "sam_o"
    marker = uuid.uuid4().hex[:8]

    customer = await browser.new_context()  # fresh: no session at the provider yet
    xsim_page = await _customer_tweets(customer, stack, username, f"why was my card declined today? {marker}")
    console = await _agent_opens_conversation(browser, stack, marker, dialogs)
    await _agent_hands_off(console)

    chat = await _customer_opens_link(customer, xsim_page, stack)
    _no_dialogs(chat, dialogs)
    await expect(chat.locator("#sign-in")).to_have_text("Sign in with Example Bank")
    await chat.click("#sign-in")
    await expect(chat).to_have_url(re.compile("^" + re.escape(stack.oidc_issuer)))
    await chat.fill('input[name="login"]', username)
    await chat.fill('input[name="password"]', "any password will do")
    await chat.click('button[type="submit"]')
    await expect(chat).to_have_url(f"{stack.haven_url}/chat", timeout=LIVE)
    await expect(chat.locator("#chat-connection.up")).to_be_visible()

    await _agent_sees_chat_live(console)
    await expect(console.locator("#chat-status")).to_contain_text("the bank's sign-in")
    await chat.fill("#chat-text", "Signed in with my bank login, hello")
    await chat.click("#chat-send")
    await expect(
        console.locator(".message.inbound .text", has_text="Signed in with my bank login")
    ).to_be_visible()
    await console.fill("#chat-text", "Hello Sam, thanks for signing in.")
    await console.click("#chat-send")
    await expect(chat.locator("#chat-log .message.inbound .text")).to_have_text(
        ["Hello Sam, thanks for signing in."]
    )
    assert dialogs == []
