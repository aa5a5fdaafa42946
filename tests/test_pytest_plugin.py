"""The pytest plugin as a user's project meets it: no pytest configuration of its own.

Each test runs pytest in a subprocess, in a temporary project whose ``pytest.ini`` sets
nothing (so pytest-asyncio is in its default strict mode, and this repository's
``asyncio_mode = auto`` does not apply). ``test_packaging.py`` does the same from an
installed wheel in a clean venv.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from turnstile.adapters.pytest_plugin import MISSING_PYTEST_ASYNCIO

from ._cli_run import shadow_module

ROOT = Path(__file__).resolve().parents[1]

def readme_pytest_example() -> str:
    """The README's pytest example (the python block that uses ``turnstile_harness``)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    [example] = [b for b in blocks if "turnstile_harness" in b and "def test_" in b]
    return example


def project(tmp_path: Path, **files: str) -> Path:
    # An empty ini file: pytest's defaults, and the rootdir stops here rather than at a
    # configuration file further up.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path


def run_pytest(where: Path, *, without_pytest_asyncio: bool = False) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]
    env = dict(os.environ)
    if without_pytest_asyncio:
        # As if it were not installed: the module cannot be imported, and its entry point
        # ("asyncio") is not loaded.
        env["PYTHONPATH"] = str(shadow_module(where, "pytest_asyncio"))
        args += ["-p", "no:asyncio"]
    return subprocess.run(args, cwd=where, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_readme_example_runs_in_a_project_with_no_configuration(tmp_path: Path) -> None:
    result = run_pytest(project(tmp_path, test_readme=readme_pytest_example()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_test_marked_by_its_author_keeps_its_mark(tmp_path: Path) -> None:
    # Explicitly marked (as pytest-asyncio's docs say): not marked twice, still runs.
    code = (
        "import pytest\n\n"
        "pytestmark = pytest.mark.asyncio\n\n"
        "async def test_listens(turnstile_harness):\n"
        "    assert turnstile_harness.agent.state == 'listening'\n"
    )
    result = run_pytest(project(tmp_path, test_marked=code))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_without_pytest_asyncio_the_plugin_loads_and_says_what_is_missing(tmp_path: Path) -> None:
    code = (
        "def test_unrelated():\n    assert 1 + 1 == 2\n\n"
        "def test_provider(scripted_provider):\n    assert scripted_provider.capabilities\n\n"
        "async def test_harness(turnstile_harness):\n    pass\n"
    )
    result = run_pytest(project(tmp_path, test_mixed=code), without_pytest_asyncio=True)
    out = result.stdout + result.stderr
    # The sync tests pass (the plugin loaded), the async one errors at setup with our line.
    assert "2 passed" in out and "1 error" in out, out
    assert MISSING_PYTEST_ASYNCIO in out
    assert "Traceback" not in out


@pytest.mark.parametrize("module", ["livekit.rtc", "numpy", "turnstile.machine"])
def test_loading_the_plugin_imports_nothing_heavy(module: str) -> None:
    # Every pytest run in the environment loads the plugin: it must stay cheap and safe.
    code = f"import sys, turnstile.adapters.pytest_plugin; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
