"""The built wheel, installed as a user installs it: a clean venv, without the dev extra.

Slow (a wheel build and a venv install from PyPI; pip's cache makes the second run
quicker), so the module builds one wheel and one venv and every test shares them. The
optional packages a test needs (pytest-asyncio, pygraphviz) go into directories of their
own, put on PYTHONPATH only for the runs that should see them, so no test depends on the
order the others ran in. Skipped, with the reason, only when the wheel cannot be built
or installed for want of a package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from turnstile.adapters.pytest_plugin import MISSING_PYTEST_ASYNCIO

from .test_pytest_plugin import project, readme_pytest_example

ROOT = Path(__file__).resolve().parents[1]
_WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE*", "machine", "adapters", "diagrams")
_OFFLINE_SIGNS = ("NewConnectionError", "Failed to establish", "Temporary failure in name resolution",
                  "No matching distribution found", "Could not find a version")  # fmt: skip


def _run(args: list[str], *, what: str, cwd: Path | None = None) -> None:
    """Run a build or install step; skip the module when it failed for want of an index."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=1200, check=False)
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    if any(sign in output for sign in _OFFLINE_SIGNS):
        pytest.skip(f"{what}: no package index reachable ({output.strip().splitlines()[-1]})")
    pytest.fail(f"{what} failed:\n{output}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the project's tracked and new files, so the build leaves
    # nothing in the work tree and ignores what lies around it (out/, build/, venvs).
    tmp = tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z", "--", *_WHEEL_SOURCES],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    src = tmp / "src"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp / "dist")],
         what="building the wheel")  # fmt: skip
    [built] = (tmp / "dist").glob("turnstile_agents-*.whl")
    return built


@dataclass
class Venv:
    root: Path
    extras: Path
    """Directories of optional packages, one per name, for PYTHONPATH."""
    _installed: set[str] = field(default_factory=set)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def with_package(self, requirement: str) -> Path:
        """A directory holding ``requirement`` (no dependencies: the venv has them)."""
        target = self.extras / requirement.split(">")[0].split("=")[0]
        if requirement not in self._installed:
            _run([str(self.bin / "python"), "-m", "pip", "install", "-q", "--no-deps",
                  "--target", str(target), requirement], what=f"installing {requirement}")  # fmt: skip
            self._installed.add(requirement)
        return target

    def run(self, *args: str, cwd: Path, path: Sequence[Path] = (), env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        full_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(map(str, path))}
        full_env.pop("VIRTUAL_ENV", None)
        return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root / "env")], check=True, timeout=300)
    env = Venv(root / "env", root / "extras")
    # The package and pytest, as a user's project has them: no dev extra, no pytest-asyncio.
    _run([str(env.bin / "python"), "-m", "pip", "install", "-q", str(wheel), "pytest"],
         what="installing the wheel")  # fmt: skip
    return env


def test_the_wheel_ships_py_typed_for_every_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("machine", "adapters", "diagrams"):
        assert f"turnstile/{package}/py.typed" in names, package


def test_pytest_in_an_unrelated_project_still_works(venv: Venv, tmp_path: Path) -> None:
    where = project(tmp_path, test_unrelated="def test_one():\n    assert 1 + 1 == 2\n")
    result = venv.run(str(venv.bin / "python"), "-m", "pytest", "-q", cwd=where)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_readme_example_without_pytest_asyncio_says_what_to_install(venv: Venv, tmp_path: Path) -> None:
    where = project(tmp_path, test_readme=readme_pytest_example())
    result = venv.run(str(venv.bin / "python"), "-m", "pytest", "-q", cwd=where)
    assert result.returncode == 1, result.stdout + result.stderr
    assert MISSING_PYTEST_ASYNCIO in result.stdout


def test_the_readme_example_with_pytest_asyncio(venv: Venv, tmp_path: Path) -> None:
    # What `pip install 'turnstile-agents[pytest]'` adds: pytest-asyncio, in strict mode.
    site = venv.with_package("pytest-asyncio>=0.24")
    where = project(tmp_path, test_readme=readme_pytest_example())
    result = venv.run(str(venv.bin / "python"), "-m", "pytest", "-q", cwd=where, path=[site])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_version(venv: Venv, tmp_path: Path) -> None:
    result = venv.run(str(venv.bin / "turnstile"), "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "turnstile 0.1.0"


def test_write_committed_refuses_outside_a_source_checkout(venv: Venv, tmp_path: Path) -> None:
    [installed] = venv.root.glob("lib/python*/site-packages/turnstile/diagrams")
    before = {p.name: p.stat().st_mtime_ns for p in installed.iterdir()}
    result = venv.run(str(venv.bin / "turnstile"), "diagram", "--write-committed", cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1 and "source checkout" in lines[0], result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in installed.iterdir()} == before  # nothing written


def test_svg_without_dot_says_how_to_get_it(venv: Venv, tmp_path: Path) -> None:
    no_dot = tmp_path / "bin"
    no_dot.mkdir()
    result = venv.run(str(venv.bin / "turnstile"), "diagram", "-o", "x.svg", cwd=tmp_path,
                      env={"PATH": str(no_dot)})  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "apt install graphviz" in lines[0] and "turnstile-agents[render]" in lines[0]
    assert not (tmp_path / "x.svg").exists()


def test_svg_without_dot_through_pygraphviz(venv: Venv, tmp_path: Path) -> None:
    # The [render] extra: pygraphviz's wheel bundles Graphviz's libraries.
    site = venv.with_package("pygraphviz>=2")
    no_dot = tmp_path / "bin"
    no_dot.mkdir()
    result = venv.run(str(venv.bin / "turnstile"), "diagram", "-o", "x.svg", cwd=tmp_path,
                      path=[site], env={"PATH": str(no_dot)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    svg = (tmp_path / "x.svg").read_text()
    assert "<svg" in svg and "speaking" in svg and "turnstile-chart-sha256" in svg
