"""The page tests' browser: one Chromium context per module, on that module's ``hub``."""

from __future__ import annotations

import pytest
from harness.browser import VIEWPORT, chromium_context


@pytest.fixture(scope="module")
def browser_context(hub, tmp_path_factory):
    """A fresh Chromium profile for the module's tests (skips, or fails in CI, without
    Chromium)."""
    with chromium_context(
        tmp_path_factory.mktemp("chromium-profile"), viewport=VIEWPORT
    ) as context:
        yield context
