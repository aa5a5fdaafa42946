"""What importing the package loads: a user of Gemini or OpenAI alone never loads LiveKit's
native library or numpy, and importing the core builds no pydantic validator (an agent
builds them before its first call). Each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("livekit.rtc", "numpy")


def _loaded_after(code: str) -> dict[str, object]:
    probe = (
        f"{code}\nimport json, sys\n"
        "from turnstile.machine import ChatMessage, SessionReady, ToolOutput, TraceRecord\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'built': [m.__pydantic_complete__ "
        "for m in (ChatMessage, SessionReady, ToolOutput, TraceRecord)]}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "code",
    [
        "import turnstile.machine",
        "from turnstile.machine import RealtimeAgent, AgentOptions, Trace, Tool",
        "import turnstile.adapters.openai",
        "import turnstile.adapters.gemini",
        "import turnstile.adapters.scripted",
    ],
)
def test_the_core_and_the_provider_adapters_load_neither_livekit_nor_numpy(code: str) -> None:
    loaded = _loaded_after(code)["modules"]
    assert isinstance(loaded, list)
    assert [m for m in HEAVY if m in loaded] == []


def test_importing_the_core_builds_no_validator_and_an_agent_builds_them_all() -> None:
    assert _loaded_after("import turnstile.machine")["built"] == [False] * 4
    made = _loaded_after(
        "from turnstile.machine import RealtimeAgent\n"
        "from turnstile.adapters.scripted import ScriptedRealtime\n"
        "RealtimeAgent(ScriptedRealtime())"
    )
    assert made["built"] == [True] * 4


def test_the_cli_loads_no_event_loop_machinery_until_a_command_needs_it() -> None:
    # `turnstile --help` and `--version` import the CLI and nothing that runs a call:
    # asyncio and importlib.metadata alone were most of its start-up.
    probe = "import json, sys\nimport turnstile.adapters.cli\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert [m for m in ("asyncio", "importlib.metadata", *HEAVY) if m in loaded] == []
