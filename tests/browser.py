"""Headless Chromium for page tests: Debian's package driven by Playwright, every request recorded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser download is not used
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # the browser's own calls to Google go nowhere; the page's requests are what the tests judge
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@contextmanager
def chromium_page(requests: list[str], **page_options: Any) -> Iterator[Any]:
    """A new page whose every request URL is appended to `requests`; skips without Chromium/Playwright."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: `make browser` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**page_options)
            page.on("request", lambda request: requests.append(request.url))
            yield page
        finally:
            browser.close()


def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's waiting assertion (`expect(locator).to_be_visible()`…): it retries until its timeout,
    so a page test never races the page. Use it for everything a page test looks for."""
    return pytest.importorskip("playwright.sync_api").expect(actual, message)


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
