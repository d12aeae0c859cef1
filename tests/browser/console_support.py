"""What an agent does in the console in several browser tests."""

from __future__ import annotations

from playwright.async_api import Page, expect


async def take_conversation(console: Page) -> None:
    """Assign the open conversation to the signed-in agent if routing gave it to a colleague: while it
    is someone else's, an agent may not answer (collision control)."""
    assign = console.locator("#assign-me")
    if await assign.count():
        await assign.click()
        await expect(console.locator("#assign-me")).to_have_count(0)
