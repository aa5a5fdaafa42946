"""Which interpreter runs each half of the sessions bench.

Each peer framework pins its own dependencies (livekit-agents pins an older livekit;
Pipecat and the OpenAI Agents SDK pick their own websockets), so each runs from a venv
of its own, made by the Makefile from this project's extras:

    .venv-peer        [bench-peer]        livekit-agents + livekit-plugins-openai
    .venv-pipecat     [bench-pipecat]     pipecat-ai[openai]
    .venv-oai-agents  [bench-oai-agents]  openai-agents

Every venv also has this project installed (editable), for the shared harness modules and
livekit's ``rtc.AudioFrame``. An environment variable names another interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VENVS", "Venv", "python_for"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Venv:
    path: str  # relative to the repository root
    env: str  # an environment variable naming another interpreter
    probe: str  # the import that says the framework is there
    extra: str  # this project's extra that installs it
    what: str


_LIVEKIT = Venv(".venv-peer", "TURNSTILE_PEER_PYTHON", "import livekit.agents, livekit.plugins.openai",
                "bench-peer", "livekit-agents")  # fmt: skip
VENVS: dict[str, Venv] = {
    "livekit-agents": _LIVEKIT,
    "livekit-agents-session": _LIVEKIT,
    "pipecat": Venv(".venv-pipecat", "TURNSTILE_PIPECAT_PYTHON", "import pipecat.services.openai.realtime.llm",
                    "bench-pipecat", "pipecat-ai"),
    "openai-agents": Venv(".venv-oai-agents", "TURNSTILE_OAI_AGENTS_PYTHON", "import agents.realtime",
                          "bench-oai-agents", "openai-agents"),
}  # fmt: skip
"""The halves that run outside this venv; every other half runs with this interpreter."""


def python_for(name: str, _cache: dict[str, tuple[str | None, str]] = {}) -> tuple[str | None, str]:  # noqa: B006
    """The interpreter for the half ``name``, or None, and where it is (or why it is not)."""
    venv = VENVS.get(name)
    if venv is None:
        return sys.executable, sys.executable
    if name not in _cache:
        _cache[name] = _find(venv)
    return _cache[name]


def _find(venv: Venv) -> tuple[str | None, str]:
    env = os.environ.get(venv.env)
    candidates = [env] if env else [str(ROOT / venv.path / "bin" / "python"), sys.executable]
    for python in candidates:
        if Path(python).exists() and subprocess.run(
            [python, "-c", venv.probe], capture_output=True, check=False, cwd=ROOT
        ).returncode == 0:
            return python, python
    return None, (
        f"{venv.what} not found (looked for {venv.env}, {venv.path}, this venv); create it with: "
        f"make {venv.path}/.installed  (python -m venv {venv.path} && {venv.path}/bin/pip install -e '.[{venv.extra}]')"
    )
