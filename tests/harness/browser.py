"""Debian's Chromium, driven by Playwright (which cannot download a browser here).

Usage::

    with chromium_context(tmp_path / "profile") as context:      # the sync API
        page = context.new_page()
        log_in(page, hub, "admin")                                # the hub's login form

    async with async_chromium_context(tmp_path / "profile") as context:   # the async API
        page = await context.new_page()

Each context is a fresh persistent profile in the given directory, headless, with flags for a
closed network (no background connections). A missing Chromium skips the test with a printed
reason (fails in CI).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.components import require_binary
from harness.hub import PASSWORD, HubProcess

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext as AsyncBrowserContext
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
#: Headless flags for a closed network: no background connections, a fresh profile each run.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The window size of the page tests (and their screenshots).
VIEWPORT = {"width": 1280, "height": 900}


def _options(options: dict[str, Any]) -> dict[str, Any]:
    chromium = require_binary(CHROMIUM, "chromium")  # skips with a printed reason (fails in CI)
    return {"executable_path": chromium, "headless": True, "args": CHROMIUM_ARGS, **options}


@contextlib.contextmanager
def chromium_context(profile: Path, **options: Any) -> Iterator[BrowserContext]:
    """A Chromium context (Playwright's sync API) on the profile directory *profile*;
    *options* go to ``launch_persistent_context`` (e.g. ``viewport=VIEWPORT``)."""
    settings = _options(options)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(str(profile), **settings)
        try:
            yield context
        finally:
            context.close()


@contextlib.asynccontextmanager
async def async_chromium_context(
    profile: Path, **options: Any
) -> AsyncIterator[AsyncBrowserContext]:
    """As :func:`chromium_context`, with Playwright's async API."""
    settings = _options(options)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(str(profile), **settings)
        try:
            yield context
        finally:
            await context.close()


def log_in(page: Page, hub: HubProcess, name: str = "admin") -> None:
    """Open the service, log *name* in through the hub's login form, land on the service."""
    page.goto(hub.service_url)
    page.wait_for_url(re.compile(r".*/hub/login.*"))
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(hub.service_url)
