"""A person plays both sides in Chromium: a customer tweets, an agent sees it live and replies."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Browser, Dialog, Page, expect

from tests.browser.console_support import take_conversation
from tests.e2e.conftest import Stack

SCREENSHOTS = Path("test-results")


def _no_dialogs(page: Page, seen: list[str]) -> None:
    async def record(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", record)


async def test_customer_tweets_agent_replies_customer_sees_the_threaded_answer(
    stack: Stack, browser: Browser
) -> None:
    dialogs: list[str] = []
    agent = stack.demo.agents[0]
    username = f"b_{uuid.uuid4().hex[:8]}"
    hostile = '<img src=x onerror=alert("pwned")>'

    console = await (await browser.new_context()).new_page()
    _no_dialogs(console, dialogs)
    await console.goto(f"{stack.haven_url}/login")
    await console.fill("#login-email", agent.email)
    await console.fill("#login-password", agent.password)
    await console.click("#login-submit")
    await expect(console).to_have_url(f"{stack.haven_url}/inbox")
    await expect(console.locator("#live-status.up")).to_be_visible()
    await console.evaluate("window.__sameDocument = true")

    customer = await (await browser.new_context()).new_page()
    _no_dialogs(customer, dialogs)
    await customer.goto(stack.xsim_url)
    await customer.fill("#new-user-name", username)
    await customer.fill("#new-user-display-name", "Browser Customer")
    await customer.click("#create-user")
    await expect(customer.locator("#compose-text")).to_have_value("@ExampleBankHelp ")
    await customer.fill("#compose-text", f"@ExampleBankHelp my card is stuck in the ATM {hostile}")
    await customer.click("#compose-send")
    customer_tweet = customer.locator(f'.tweet[data-author="{username}"]').first
    await expect(customer_tweet).to_be_visible()
    tweet_id = await customer_tweet.get_attribute("data-tweet-id")

    # The conversation appears in the agent's inbox without a reload.
    row = console.locator(".inbox-row", has_text=f"@{username}")
    await expect(row).to_be_visible(timeout=10_000)
    assert await console.evaluate("window.__sameDocument") is True
    await expect(row.locator(".preview")).to_contain_text(hostile)

    await row.locator("a").click()
    await expect(console.locator(".message.inbound .text")).to_have_text(
        f"@ExampleBankHelp my card is stuck in the ATM {hostile}"
    )
    await take_conversation(console)
    await console.fill("#reply-text", "Sorry about that! Please call the number on the back of your card.")
    await console.click("#reply-send")  # no audience chosen yet: the browser refuses to send
    await expect(console.locator(".message.outbound")).to_have_count(0)
    await console.check("#visibility-public")
    await expect(console.locator("#reply-count")).to_have_text("66 / 280")
    await console.click("#reply-send")
    outbound = console.locator(".message.outbound").last
    await expect(outbound.locator(".delivery-status")).to_contain_text("sent", timeout=10_000)

    # The customer page shows the brand's answer threaded under the customer's tweet.
    answer = customer.locator(f'.tweet[data-tweet-id="{tweet_id}"] .replies .tweet.from-brand .text')
    await expect(answer).to_have_text(
        "Sorry about that! Please call the number on the back of your card.", timeout=10_000
    )

    SCREENSHOTS.mkdir(exist_ok=True)
    await console.screenshot(path=SCREENSHOTS / "console-conversation.png", full_page=True)
    await customer.screenshot(path=SCREENSHOTS / "xsim-customer-page.png", full_page=True)
    assert dialogs == [], "a tweet's markup ran as script"


async def test_wrong_password_shows_an_error_and_no_session(stack: Stack, browser: Browser) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{stack.haven_url}/login")
    await page.fill("#login-email", stack.demo.agents[0].email)
    await page.fill("#login-password", "not the password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("Wrong e-mail or password.")
    await page.goto(f"{stack.haven_url}/inbox")
    await expect(page).to_have_url(f"{stack.haven_url}/login")


async def test_a_customers_dm_joins_their_thread_and_the_agent_answers_privately(
    stack: Stack, browser: Browser
) -> None:
    """The composer makes the audience explicit; a private answer reaches the customer as a DM and
    never appears on their public timeline."""
    dialogs: list[str] = []
    agent = stack.demo.agents[0]
    username = f"p_{uuid.uuid4().hex[:8]}"

    customer = await (await browser.new_context()).new_page()
    _no_dialogs(customer, dialogs)
    await customer.goto(stack.xsim_url)
    await customer.fill("#new-user-name", username)
    await customer.fill("#new-user-display-name", "Private Customer")
    await customer.click("#create-user")
    await customer.fill("#compose-text", "@ExampleBankHelp someone took money from my account")
    await customer.click("#compose-send")
    await expect(customer.locator(f'.tweet[data-author="{username}"]').first).to_be_visible()
    await customer.fill("#dm-text", "It was 250 on Tuesday, I did not make that payment")
    await customer.click("#dm-send")
    await expect(customer.locator(f".dm[data-sender='{username}']")).to_be_visible()

    console = await (await browser.new_context()).new_page()
    _no_dialogs(console, dialogs)
    await console.goto(f"{stack.haven_url}/login")
    await console.fill("#login-email", agent.email)
    await console.fill("#login-password", agent.password)
    await console.click("#login-submit")
    row = console.locator(".inbox-row", has_text=f"@{username}")
    await expect(row).to_be_visible(timeout=10_000)
    await row.locator("a").click()
    # One timeline: the public tweet and the DM, each marked with its audience.
    await expect(console.locator(".message.inbound.private .text")).to_have_text(
        "It was 250 on Tuesday, I did not make that payment", timeout=10_000
    )
    await expect(console.locator(".message.inbound.public")).to_have_count(1)
    await take_conversation(console)

    await console.check("#visibility-private")
    await expect(console.locator("#composer.is-private")).to_be_visible()
    await console.fill("#reply-text", "Thank you. We have blocked the card; a colleague will call you today.")
    await expect(console.locator("#reply-count")).to_have_text("69 / 10000")
    await console.click("#reply-send")
    outbound = console.locator(".message.outbound.private").last
    await expect(outbound.locator(".delivery-status")).to_contain_text("sent", timeout=10_000)

    answer = customer.locator(".dm.from-brand")
    await expect(answer).to_contain_text("We have blocked the card", timeout=10_000)
    await expect(customer.locator(".tweet.from-brand", has_text="We have blocked the card")).to_have_count(0)
    SCREENSHOTS.mkdir(exist_ok=True)
    await console.screenshot(path=SCREENSHOTS / "console-private-reply.png", full_page=True)
    assert dialogs == []
