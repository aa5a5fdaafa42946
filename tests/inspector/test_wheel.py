"""The page's files ship in the wheel: an installed inspector serves them as they are."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.test_packaging import wheel  # noqa: F401 - the fixture that builds the project's wheel


def test_the_wheel_ships_the_inspector_page(wheel: Path) -> None:  # noqa: F811
    names = set(zipfile.ZipFile(wheel).namelist())
    static = "turnstile/adapters/inspector/static"
    for name in ("index.html", "inspector.js", "model.js", "chart.js", "timeline.js", "inspector.css"):
        assert f"{static}/{name}" in names, name
    assert "turnstile/adapters/inspector/__init__.py" in names
