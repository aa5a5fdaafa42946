from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import _browser


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = _browser.missing()
    if reason is not None:
        pytest.skip(reason)
    drv = _browser.start(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def page(driver: Any, tmp_path_factory: pytest.TempPathFactory) -> _browser.Page:
    return _browser.Page(driver, Path(tmp_path_factory.getbasetemp()) / "inspector-screenshots")
