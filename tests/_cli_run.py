"""Running the ``turnstile`` console script as a user does, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TURNSTILE = Path(sys.executable).with_name("turnstile")


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TURNSTILE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def stderr_lines(result: subprocess.CompletedProcess[str] | str) -> list[str]:
    """The lines a user sees on stderr, blank ones left out."""
    text = result if isinstance(result, str) else result.stderr
    return [line for line in text.splitlines() if line.strip()]


def shadow_module(where: Path, name: str) -> Path:
    """A directory that makes ``name`` unimportable when first on PYTHONPATH (as if not installed)."""
    package = where / f"_without_{name}" / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f"raise ModuleNotFoundError(name={name!r})\n")
    return package.parent


def without_graphviz(where: Path) -> dict[str, str]:
    """An environment with no ``dot`` on PATH and no pygraphviz to fall back on."""
    empty = where / "_empty_path"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty), "PYTHONPATH": str(shadow_module(where, "pygraphviz"))}
