"""Headless Chromium (Debian's package) driven by Playwright. Nothing is downloaded at test time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if IN_CI:
            pytest.fail("CI=true but Chromium is missing: apt-get install -y chromium")
        pytest.skip("browser tests need Debian's chromium (apt-get install -y chromium); skipped on this machine")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("browser tests need the playwright package (make test installs it)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test are still sync.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright, executable)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(sync_playwright, executable: str):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone-sized screen
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser tests leave their screenshots: $METIS_TEST_ARTIFACTS, else var/test-artifacts/."""
    default = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
    path = Path(os.environ.get("METIS_TEST_ARTIFACTS") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path
