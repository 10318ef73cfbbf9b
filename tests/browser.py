"""The real browser for the browser tests: Debian's chromium through Playwright (never
`playwright install`), and a failure screenshot plus the server's log when a step fails."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless chromium browser, closed at the end of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def watched(pages: dict, log_path: Path | None, name: str) -> Iterator[None]:
    """If the block fails: a full-page screenshot of each page (`name-who-failure.png`, or
    `name-failure.png` for a single page keyed ""), then the end of the server's log."""
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield
    except Exception:
        for who, page in pages.items():
            shot = f"{name}-{who}-failure.png" if who else f"{name}-failure.png"
            with contextlib.suppress(Exception):  # a closed page must not hide the failure
                page.screenshot(path=ARTIFACTS / shot, full_page=True)
        if log_path is not None:
            print(log_path.read_text(errors="replace")[-4000:])  # the server's side of it
        raise
