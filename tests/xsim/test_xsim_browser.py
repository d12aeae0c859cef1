"""The customer page in Chromium: create a customer, post, see the brand reply arrive, reply."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from xsim_support import OAuth1

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert('pwned')</script> my card is blocked"


@pytest.fixture
def problems() -> list[str]:
    """Dialogs (a script ran), page errors and console errors (e.g. CSP violations)."""
    return []


@pytest.fixture
async def page(browser: Browser, problems: list[str]) -> AsyncIterator[Page]:
    page = await browser.new_page()
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None,
    )
    yield page
    await page.close()


async def _brand_reply(base_url: str, text: str, parent_id: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, auth=OAuth1()) as client:
        body = {"text": text, "reply": {"in_reply_to_tweet_id": parent_id}}
        response = await client.post("/2/tweets", json=body)
        response.raise_for_status()
        tweet_id: str = response.json()["data"]["id"]
        return tweet_id


async def test_customer_journey(page: Page, problems: list[str], live_xsim: str) -> None:
    await page.goto(live_xsim)
    await page.fill("#new-user-name", "dana")
    await page.click("#create-user")
    await page.wait_for_url("**/?user=dana")
    await expect(page.locator("#user-select")).to_have_value("dana")
    await expect(page.locator("#compose-text")).to_have_value("@ExampleBankHelp ")

    await page.locator("#compose-text").press_sequentially(HOSTILE)
    await page.click("#compose-send")
    own = page.locator(".thread .tweet[data-author='dana']")
    await expect(own.locator(".text")).to_have_text(f"@ExampleBankHelp {HOSTILE}")
    await expect(page.locator("#compose-text")).to_have_value("@ExampleBankHelp ")
    tweet_id = await own.get_attribute("data-tweet-id")
    assert tweet_id

    # The brand answers through the API; the page shows it without a reload.
    reply_id = await _brand_reply(live_xsim, "@dana Sorry! Which card?", tweet_id)
    brand_tweet = page.locator(f".tweet.from-brand[data-tweet-id='{reply_id}']")
    await expect(brand_tweet).to_be_visible(timeout=5000)
    await expect(own.locator(".replies .tweet.from-brand")).to_have_count(1)

    await brand_tweet.locator(".reply-button").first.click()
    await expect(page.locator("#reply-box")).to_be_visible()
    await expect(page.locator("#reply-quote")).to_have_text("@dana Sorry! Which card?")
    await expect(page.locator("#reply-text")).to_have_value("@ExampleBankHelp ")
    await page.locator("#reply-text").press_sequentially("the debit one")
    await page.click("#reply-send")
    await expect(page.locator("#reply-box")).to_be_hidden()
    answer = brand_tweet.locator(".replies .tweet[data-author='dana'] .text")
    await expect(answer).to_have_text("@ExampleBankHelp the debit one")

    assert problems == []  # no script ran from tweet text, no CSP violation, no JS error

    # Errors are shown, not swallowed: the same text again is a duplicate.
    await page.fill("#compose-text", f"@ExampleBankHelp {HOSTILE}")
    await page.click("#compose-send")
    await expect(page.locator("#error")).to_have_text(
        "You are not allowed to create a Tweet with duplicate content."
    )
    assert len(problems) == 1 and "status of 403" in problems[0]


async def test_customer_direct_messages(page: Page, problems: list[str], live_xsim: str) -> None:
    created = httpx.post(f"{live_xsim}/_sim/users", json={"username": "ivy"})
    created.raise_for_status()
    customer_id = created.json()["id"]
    await page.goto(f"{live_xsim}/?user=ivy")
    await expect(page.locator("#no-dms")).to_be_visible()
    await expect(page.locator("#dm-count")).to_have_text("10000")

    await page.locator("#dm-text").press_sequentially(HOSTILE)
    await page.click("#dm-send")
    own = page.locator(".dm[data-sender='ivy']")
    await expect(own.locator(".text")).to_have_text(HOSTILE)
    await expect(page.locator("#dm-text")).to_have_value("")

    # The brand answers privately through the API; the page shows it without a reload.
    async with httpx.AsyncClient(base_url=live_xsim, auth=OAuth1()) as client:
        response = await client.post(
            f"/2/dm_conversations/with/{customer_id}/messages", json={"text": "Sorry! <b>Which</b> card?"}
        )
        response.raise_for_status()
    answer = page.locator(".dm.from-brand")
    await expect(answer.locator(".text")).to_have_text("Sorry! <b>Which</b> card?", timeout=5000)
    await expect(page.locator(".dm")).to_have_count(2)
    assert problems == []

    await page.fill("#dm-text", "x" * 10_001)
    await expect(page.locator("#dm-count")).to_have_text("-1")
    await page.click("#dm-send")
    await expect(page.locator("#error")).to_contain_text("at most 10000 are allowed")
    assert len(problems) == 1 and "status of 400" in problems[0]
