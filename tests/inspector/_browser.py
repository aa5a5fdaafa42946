"""Debian's headless Chromium, driven by Selenium through Debian's chromium-driver.

Nothing here downloads a browser: both binaries come from apt (``make setup`` installs
them). Selenium's own driver manager is told to stay offline. Every wait is on a
condition of the page (WebDriverWait), never a sleep.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Chromium's own background connections are refused on this network, many at a time:
# these flags keep it from trying (and from slowing every start).
_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--window-size=1500,1000", "--hide-scrollbars",
)  # fmt: skip


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.access(path, os.X_OK) or shutil.which(Path(path).name)):
            return f"{path} is not installed (make setup installs Debian's chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def start(profile: Path) -> Any:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in (*_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
    return webdriver.Chrome(service=service, options=options)


class Page:
    """One browser tab, used from async tests: each blocking call runs in a thread."""

    def __init__(self, driver: Any, shots: Path) -> None:
        self.driver = driver
        self.shots = shots

    async def open(self, url: str) -> None:
        await asyncio.to_thread(self.driver.get, url)

    async def js(self, script: str, *args: Any) -> Any:
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def until(self, script: str, what: str, timeout: float = 15.0, *args: Any) -> Any:
        """Wait until ``script`` (returning a value) gives something truthy; returns it."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        def check(driver: Any) -> Any:
            return driver.execute_script(script, *args)

        wait: Callable[[], Any] = lambda: WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(check)  # noqa: E731
        try:
            return await asyncio.to_thread(wait)
        except TimeoutException:
            shot = await self.screenshot(f"timeout-{what.replace(' ', '-')[:40]}")
            pytest.fail(f"the page did not show {what} within {timeout}s (screenshot: {shot})")

    async def screenshot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        await asyncio.to_thread(self.driver.save_screenshot, str(path))
        return path

    async def upload(self, selector: str, path: Path) -> None:
        from selenium.webdriver.common.by import By

        def send() -> None:
            self.driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

        await asyncio.to_thread(send)
