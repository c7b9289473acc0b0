"""A real headless Chromium for the console's end-to-end tests (Debian's ``chromium``, driven by playwright).

    from browser import ConsolePage, launch
    with launch() as browser:                       # in a module-scoped fixture
        page = ConsolePage(browser, "http://127.0.0.1:8080", width=390)   # watches for errors
        page.open("feeds", key=KEY); page.check_layout("feeds"); page.screenshot("feeds-390")

We drive the distribution's Chromium (``/usr/bin/chromium``), not a browser playwright downloads:
it is what a CI image or a developer's machine has, and it needs no network at test time. When it
is missing and we are root with apt-get (a CI container), the fixture installs it and says so (on
the terminal at once, and as a warning in pytest's summary); otherwise the test fails and says how to
install it. Screenshots go to ``build/screenshots/`` (or
``$CONTEXTBRIDGE_SCREENSHOTS``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CONTEXTBRIDGE_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
INSTALL_CHROMIUM = "install it with: sudo apt-get install --no-install-recommends chromium"
INSTALL_PLAYWRIGHT = (
    "install the test extras: pip install -e '.[test]' (playwright; no `playwright install` needed)"
)
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("CONTEXTBRIDGE_SCREENSHOTS") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def announce(message: str) -> None:
    """Say what the tests install on the machine: on the terminal now (past pytest's capture) and in
    the warnings summary at the end."""
    print(f"\n[contextbridge tests] {message}", file=sys.__stderr__, flush=True)
    warnings.warn(message, stacklevel=3)


def ensure_chromium() -> Path:
    """The Chromium binary; installed with apt-get when missing and we may (root, apt-get present)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        command = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        announce(f"{CHROMIUM} is missing: installing it for the console tests with `{' '.join(command)}`")
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:  # a fresh container has no package lists yet
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{CHROMIUM} is missing and `{' '.join(command)}` failed:\n{done.stderr[-2000:]}")
        if not CHROMIUM.exists():
            pytest.fail(
                f"`{' '.join(command)}` ran but {CHROMIUM} is still missing (set CONTEXTBRIDGE_CHROMIUM)"
            )
        return CHROMIUM
    pytest.fail(f"the console tests need Chromium at {CHROMIUM}: {INSTALL_CHROMIUM}")


@contextlib.contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium (a playwright ``Browser``), closed on exit."""
    executable = ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the console tests need playwright: {INSTALL_PLAYWRIGHT}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class ConsolePage:
    """A browser page on the console at one viewport size that records console errors and warnings
    and uncaught exceptions (``problems``), and checks the layout."""

    def __init__(
        self, browser: Any, url: str, *, width: int = LAPTOP["width"], height: int | None = None
    ) -> None:
        self.url = url
        self.width = width
        height = height or (PHONE["height"] if width <= PHONE["width"] else LAPTOP["height"])
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(
                f"console {message.type}: {message.text} ({message.location.get('url', '')})"
            )

    def open(self, view: str, *, key: str, tenant: str = "") -> None:
        """Load the console, enter the key (kept in sessionStorage by the page), go to ``view``."""
        self.page.goto(f"{self.url}/#{view}")
        self.page.fill("#api-key", key)
        self.page.fill("#tenant", tenant)
        self.page.click("#save-key")
        self.page.wait_for_selector("#who.ok")

    def go(self, view: str) -> None:
        self.page.evaluate("view => { location.hash = view }", view)
        self.page.wait_for_selector(f"#{view}:not([hidden])")

    def wait_until(self, function: str, arg: Any = None, *, seconds: float = 10) -> Any:
        """Poll a JavaScript ``function`` (as ``page.evaluate`` takes it) until it returns a truthy value.

        Not ``page.wait_for_function``: that compiles its predicate with ``eval`` inside the page,
        which the console's Content-Security-Policy forbids (as it should)."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.page.evaluate(function, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {seconds:g} s: {function} ({arg!r})")
            self.page.wait_for_timeout(50)

    def overflow(self) -> int:
        """How many CSS pixels the page is wider than the viewport (0: no horizontal scrolling)."""
        return int(self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    def check_layout(self, name: str) -> None:
        """No horizontal overflow and no console error so far; ``name`` says which page failed."""
        assert self.overflow() <= 0, f"{name}: the page is {self.overflow()} px wider than {self.width} px"
        assert not self.problems, f"{name}: {self.problems}"

    def screenshot(self, name: str) -> Path:
        path = screenshot_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
