"""An admin edits the priority rules in Chromium: a raised threshold is saved, a broken edit is explained."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.conftest import Stack


async def test_an_admin_raises_a_threshold_and_sees_a_broken_edit_explained(
    stack: Stack, browser: Browser
) -> None:
    admin = next(agent for agent in stack.demo.agents if agent.role == "admin")
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{stack.haven_url}/login")
    await page.fill("#login-email", admin.email)
    await page.fill("#login-password", admin.password)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{stack.haven_url}/inbox")

    await page.goto(f"{stack.haven_url}/admin/priority")
    editor = page.locator("#rules-document")
    rules = await editor.input_value()
    assert '"followers_at_least": 10000' in rules
    await editor.fill(rules.replace('"followers_at_least": 10000', '"followers_at_least": 25000'))
    await page.click("#rules-save")
    await expect(page.locator("#saved")).to_contain_text("The priority rules are saved")
    await expect(editor).to_have_value(rules.replace("10000", "25000"))

    broken = rules.replace('"raise_by": 1', '"raise_by": "one"', 1)
    await editor.fill(broken)
    await page.click("#rules-save")
    await expect(page.locator("#problems")).to_contain_text("raise_by")
    await expect(editor).to_have_value(broken)

    # Leave the shared demo brand as it was for the other browser tests.
    await page.click("#rules-reset")
    await expect(page.locator("#saved")).to_contain_text("back to the defaults")
    await expect(editor).to_have_value(rules)
